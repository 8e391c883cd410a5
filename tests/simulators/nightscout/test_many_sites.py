"""One test server process hosting many sites: each with its own secret, tokens, data, faults
and admin routes, reached by path prefix or by Host header."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from nightstream.simulators.nightscout import Faults
from nightstream.simulators.nightscout.sites import HostedSite, MultiSiteTestServer
from tests.simulators.nightscout.support import UPLOADER_PERMISSIONS, Caller, entry

SECRETS = {"alice": "alice-secret-0001", "bob": "bob-secret-00002"}


@pytest.fixture
async def server() -> AsyncIterator[MultiSiteTestServer]:
    async with MultiSiteTestServer() as running:
        for name, secret in SECRETS.items():
            running.add_site(name, secret)
        yield running


async def caller(site: HostedSite, client: httpx.AsyncClient) -> Caller:
    token = site.create_access_token("uploader", permissions=UPLOADER_PERMISSIONS)
    response = await client.get(f"/api/v2/authorization/request/{token}")
    assert response.status_code == 200, response.text
    return Caller(client, response.json()["token"])


async def test_each_site_has_its_own_tokens_and_documents(server: MultiSiteTestServer) -> None:
    alice, bob = server.site("alice"), server.site("bob")
    async with (
        httpx.AsyncClient(base_url=alice.url) as to_alice,
        httpx.AsyncClient(base_url=bob.url) as to_bob,
    ):
        writer_a, writer_b = await caller(alice, to_alice), await caller(bob, to_bob)
        assert (await writer_a.post("entries", entry(sgv=101))).status_code == 201
        for offset in range(2):
            created = await writer_b.post("entries", entry(1_700_000_300_000 + offset, sgv=202))
            assert created.status_code == 201
        assert [d["sgv"] for d in alice.store.documents("entries")] == [101]
        assert [d["sgv"] for d in bob.store.documents("entries")] == [202, 202]

        # Alice's JWT means nothing to Bob's site (another API secret signs it).
        stranger = Caller(to_bob, writer_a.jwt)
        assert (await stranger.post("entries", entry(sgv=303))).status_code == 401
        assert len(bob.store.documents("entries")) == 2
        assert alice.stats.count(method="POST") == 1
        assert bob.stats.count(method="POST") == 3


async def test_a_host_header_reaches_the_site_named_by_its_first_label(
    server: MultiSiteTestServer,
) -> None:
    bob = server.site("bob")
    async with httpx.AsyncClient(base_url=server.url) as client:
        client.headers["Host"] = "bob.sites.test"
        writer = await caller(bob, client)
        assert (await writer.post("entries", entry(sgv=150))).status_code == 201
    assert [d["sgv"] for d in bob.store.documents("entries")] == [150]
    assert server.site("alice").store.documents("entries") == []


async def test_admin_routes_are_per_site_behind_the_sites_own_secret(
    server: MultiSiteTestServer,
) -> None:
    alice, bob = server.site("alice"), server.site("bob")
    async with httpx.AsyncClient(base_url=server.url) as client:
        own = await client.get(
            "/site/alice/__testserver/stats", headers={"api-secret": alice.api_secret_hash}
        )
        assert own.status_code == 200
        other = await client.get(
            "/site/alice/__testserver/stats", headers={"api-secret": bob.api_secret_hash}
        )
        assert other.status_code == 401


async def test_faults_of_one_site_leave_the_others_alone(server: MultiSiteTestServer) -> None:
    alice, bob = server.site("alice"), server.site("bob")
    alice.faults = Faults(error_rate=1.0, error_statuses=(503,), seed=1)
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/site/alice/api/v3/status")).status_code == 503
        assert (await client.get("/site/bob/api/v3/status")).status_code == 401
        assert bob.stats.count(status=401) == 1


async def test_sites_come_and_go_while_the_server_runs(server: MultiSiteTestServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/site/carol/api/v3/version")).status_code == 404
        carol = server.add_site("carol", "carol-secret-003")
        async with httpx.AsyncClient(base_url=carol.url) as to_carol:
            writer = await caller(carol, to_carol)
            assert (await writer.post("entries", entry(sgv=99))).status_code == 201
        server.remove_site("carol")
        missing = await client.get("/site/carol/api/v3/version")
        assert missing.status_code == 404
        assert "carol" in missing.json()["message"]
    with pytest.raises(ValueError, match="already exists"):
        server.add_site("alice", "another-secret-1")
    with pytest.raises(ValueError, match="site name"):
        server.add_site("no/slash", "another-secret-1")

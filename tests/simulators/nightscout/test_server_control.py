"""Counters, the https redirect, and the /__testserver control endpoints."""

from __future__ import annotations

import httpx

from nightstream.simulators.nightscout import NightscoutTestServer
from tests.simulators.nightscout.conftest import request_jwt
from tests.simulators.nightscout.support import API_SECRET, Caller, entry


async def test_requests_are_counted_per_method_collection_and_status(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    server.stats.reset()
    await uploader.put("entries", "a", entry())
    await uploader.put("entries", "a", entry())
    await uploader.get("entries/missing")
    await uploader.post("treatments", [])
    stats = server.stats
    assert stats.count(method="PUT", collection="entries", status=201) == 1
    assert stats.count(method="PUT", collection="entries", status=200) == 1
    assert stats.count(method="GET", collection="entries", status=404) == 1
    assert stats.count(collection="treatments", status=400) == 1
    assert stats.count(api="v3") == 4
    assert stats.count(api="v2") == 0


async def test_plain_http_is_redirected_unless_insecure_use_http() -> None:
    async with (
        NightscoutTestServer(api_secret=API_SECRET, insecure_use_http=False) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        response = await client.get("/api/v3/version?x=1")
        assert response.status_code == 307
        host = server.url.removeprefix("http://")
        assert response.headers["Location"] == f"https://{host}/api/v3/version?x=1"
        token = server.create_access_token("r", roles=["readable"])
        assert (await client.get(f"/api/v2/authorization/request/{token}")).status_code == 307
        proxied = await client.get("/api/v3/version", headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 200
        control = await client.get(
            "/__testserver/stats", headers={"api-secret": server.api_secret_hash}
        )
        assert control.status_code == 200


async def test_control_endpoints_for_other_processes(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    guard = {"api-secret": server.api_secret_hash}
    created = await client.post(
        "/__testserver/access-tokens",
        json={"name": "uploader", "permissions": ["api:*:create", "api:*:delete"]},
        headers=guard,
    )
    caller = Caller(client, await request_jwt(client, created.json()["accessToken"]))
    await caller.put("entries", "a", entry())
    await caller.delete("entries", "a")
    documents = await client.get("/__testserver/documents/entries", headers=guard)
    assert documents.json() == []
    deleted = await client.get(
        "/__testserver/documents/entries", params={"include_deleted": "true"}, headers=guard
    )
    assert [d["identifier"] for d in deleted.json()] == ["a"]
    stats = (await client.get("/__testserver/stats", headers=guard)).json()
    assert {"api": "v3", "method": "PUT", "collection": "entries", "status": 201, "count": 1} in (
        stats["requests"]
    )
    unknown = await client.get("/__testserver/documents/nope", headers=guard)
    assert unknown.status_code == 404


async def test_v2_subject_administration_with_the_api_secret(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    guard = {"api-secret": server.api_secret_hash}
    base = "/api/v2/authorization"
    role = await client.post(
        f"{base}/roles", json={"name": "uploader", "permissions": ["api:*:create"]}, headers=guard
    )
    assert role.status_code == 200
    created = await client.post(
        f"{base}/subjects", json={"name": "sink", "roles": ["uploader"]}, headers=guard
    )
    assert "accessToken" not in created.json()  # as the real reply: list the subjects for it
    [subject] = (await client.get(f"{base}/subjects", headers=guard)).json()
    assert subject["accessToken"].startswith("sink-")
    caller = Caller(client, await request_jwt(client, subject["accessToken"]))
    assert (await caller.post("entries", entry())).status_code == 201
    roles = (await client.get(f"{base}/roles", headers=guard)).json()
    assert {"admin", "readable", "careportal", "uploader"} <= {r["name"] for r in roles}
    assert (await client.get(f"{base}/subjects")).status_code == 401
    await client.delete(f"{base}/subjects/{subject['_id']}", headers=guard)
    request = await client.get(f"{base}/request/{subject['accessToken']}")
    assert request.status_code == 401

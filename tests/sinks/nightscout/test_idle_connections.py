"""A target's connections are closed once it has been idle for the keep-alive time, not at its
next request: a sink for thousands of sites writes to each every few minutes, and kept a socket
open per site until then."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from nightstream.schemas.documents import Collection
from nightstream.simulators.nightscout.sites import MultiSiteTestServer
from nightstream.sinks.nightscout import target_http
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from tests.timing import scaled

PERMISSIONS = ["api:*:create", "api:*:update", "api:*:read"]


@pytest.fixture
async def client() -> AsyncIterator[NightscoutClient]:
    async with MultiSiteTestServer() as server:
        site = server.add_site("site", "secret-of-the-site-long-enough")
        config = NightscoutTargetConfig(
            name="site",
            base_url=site.url,
            access_token=site.create_access_token("sink", permissions=PERMISSIONS),
        )
        made = NightscoutClient(config)
        yield made
        await made.aclose()


def open_connections(client: NightscoutClient) -> int:
    return len(client._http._transport._pool.connections)  # what is measured


def entry(n: int) -> tuple[str, dict[str, object]]:
    document = {
        "date": 1_700_000_000_000 + n * 300_000,
        "utcOffset": 0,
        "app": "nightstream-tests",
        "device": "nightstream://test/site",
        "type": "sgv",
        "sgv": 100 + n,
    }
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"site-{n}")), document


async def test_connections_close_once_the_target_was_idle_for_the_keep_alive_time(
    client: NightscoutClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = scaled(0.3)
    monkeypatch.setattr(target_http, "IDLE_CLOSE_SECONDS", idle)
    for n in range(3):  # one after the other, each soon after the last: the connection is kept
        assert (await client.put(Collection.ENTRIES, *entry(n))).written
        assert open_connections(client) == 1
    await asyncio.sleep(idle / 3)
    assert open_connections(client) == 1, "closed before the keep-alive time"
    await asyncio.sleep(idle * 2)
    assert open_connections(client) == 0, "an idle target still holds its connection"
    assert (await client.put(Collection.ENTRIES, *entry(3))).written, "a new one is opened"

"""Clients of many sites sharing one limit on attempts in flight (as the sink's clients do): a
burst for every site at once keeps that many requests on the wire in all, JWT exchanges
included, and every write still lands."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from nightstream.schemas.documents import Collection
from nightstream.simulators.nightscout.sites import HostedSite, MultiSiteTestServer
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from tests.timing import scaled

SITES = 12
WRITES_PER_SITE = 3
LIMIT = 3
PERMISSIONS = ["api:*:create", "api:*:update", "api:*:read"]


class InFlight:
    """Counts the requests the sites are answering at once (each held a moment)."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def watch(self, site: HostedSite) -> None:
        answer = site.handle

        async def counted(request: web.Request, path: str) -> web.StreamResponse:
            self.now += 1
            self.most = max(self.most, self.now)
            try:
                await asyncio.sleep(scaled(0.02))
                return await answer(request, path)
            finally:
                self.now -= 1

        site.handle = counted  # type: ignore[method-assign]


@pytest.fixture
async def sites() -> AsyncIterator[tuple[MultiSiteTestServer, InFlight]]:
    in_flight = InFlight()
    async with MultiSiteTestServer() as server:
        for n in range(SITES):
            in_flight.watch(server.add_site(f"site-{n:02d}", f"secret-{n:02d}-long-enough"))
        yield server, in_flight


def _entry(site: str, n: int) -> tuple[str, dict[str, Any]]:
    identifier = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{site}-{n}"))
    document = {
        "date": 1_700_000_000_000 + n * 300_000,
        "utcOffset": 0,
        "app": "nightstream-tests",
        "device": f"nightstream://test/{site}",
        "type": "sgv",
        "sgv": 100 + n,
    }
    return identifier, document


async def _burst(server: MultiSiteTestServer, shared: asyncio.Semaphore | None) -> None:
    clients = [
        NightscoutClient(
            NightscoutTargetConfig(
                name=name,
                base_url=site.url,
                access_token=site.create_access_token("sink", permissions=PERMISSIONS),
            ),
            shared_slots=shared,
        )
        for name, site in server.sites.items()
    ]
    try:
        outcomes = await asyncio.gather(
            *(
                client.put(Collection.ENTRIES, *_entry(client.config.name, n))
                for client in clients
                for n in range(WRITES_PER_SITE)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    assert all(outcome.written for outcome in outcomes)
    for name, site in server.sites.items():
        assert len(site.store.documents("entries")) == WRITES_PER_SITE, name


async def test_sites_sharing_a_limit_have_no_more_requests_in_flight_in_all(
    sites: tuple[MultiSiteTestServer, InFlight],
) -> None:
    server, in_flight = sites
    await _burst(server, asyncio.Semaphore(LIMIT))
    assert in_flight.most == LIMIT


async def test_without_a_shared_limit_a_burst_reaches_every_site_at_once(
    sites: tuple[MultiSiteTestServer, InFlight],
) -> None:
    server, in_flight = sites
    await _burst(server, None)
    assert in_flight.most > LIMIT * 2

"""The sink's start check against the Nightscout test server: each site's verdict from one JWT
exchange, a bounded number of sites at a time, without stalling the event loop."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator

import pytest

from bench.common import LoopStalls
from nightstream.schemas.backoff import RetryPolicy
from nightstream.simulators.nightscout import Faults
from nightstream.simulators.nightscout.sites import MultiSiteTestServer
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.delivery.start_check import check_sites
from tests.sinks.nightscout.test_shared_slots import InFlight
from tests.timing import scaled

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client(name: str, url: str, token: str) -> NightscoutClient:
    config = NightscoutTargetConfig(
        name=name,
        base_url=url,
        access_token=token,
        connect_timeout=1.0,
        retry=RetryPolicy(base=0.05, cap=0.1, max_elapsed=60),
    )
    return NightscoutClient(config, asyncio.Event())


class Verdicts:
    def __init__(self) -> None:
        self.given: dict[str, str | None] = {}

    async def __call__(self, site: str, refusal: str | None) -> None:
        assert site not in self.given, f"{site} got two verdicts"
        self.given[site] = refusal


@pytest.fixture
async def server() -> AsyncIterator[MultiSiteTestServer]:
    async with MultiSiteTestServer() as running:
        yield running


async def test_each_site_gets_its_own_verdict_from_one_exchange(
    server: MultiSiteTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    site = {
        name: server.add_site(name, api_secret=f"secret-of-{name}-long-enough")
        for name in ("good", "readonly", "createonly", "refused")
    }
    tokens = {
        "good": site["good"].create_access_token("s", permissions=UPLOADER),
        "readonly": site["readonly"].create_access_token("s", roles=["readable"]),
        "createonly": site["createonly"].create_access_token("s", permissions=["api:*:create"]),
        "refused": "refused-0123456789abcdef",
    }
    clients = {name: _client(name, server.site(name).url, token) for name, token in tokens.items()}
    clients["down"] = _client("down", f"http://127.0.0.1:{_closed_port()}", "t-0123456789")
    verdicts = Verdicts()
    started = time.monotonic()
    try:
        with caplog.at_level(logging.DEBUG, logger="nightstream.sinks.nightscout.client"):
            await check_sites({n: c.check_at_start for n, c in clients.items()}, verdicts)
    finally:
        for client in clients.values():
            await client.aclose()
    assert time.monotonic() - started < scaled(5)  # the site that is down is not retried
    assert verdicts.given["good"] is None
    assert verdicts.given["down"] is None  # not fatal: its lane retries and parks as usual
    readonly = verdicts.given["readonly"]
    assert readonly is not None
    assert readonly.startswith(
        "the access token lacks permission api:entries:create, api:entries:update, "
        "api:treatments:create, api:treatments:update, api:devicestatus:create, "
        "api:devicestatus:update. In Nightscout Admin Tools give the token's subject a role"
    )
    createonly = verdicts.given["createonly"]
    assert createonly is not None
    assert createonly.startswith(
        "the access token lacks permission api:entries:update, api:treatments:update, "
        "api:devicestatus:update."
    )
    refused = verdicts.given["refused"]
    assert refused is not None
    assert refused.startswith("Nightscout does not accept the access token (HTTP 401")
    assert "refused-0123456789abcdef" not in refused
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    for name in tokens:
        assert server.site(name).stats.count(method="PUT") == 0


async def test_many_sites_are_checked_a_bounded_number_at_a_time_without_stalling_the_loop(
    server: MultiSiteTestServer,
) -> None:
    sites, at_once = 400, 16
    in_flight = InFlight()
    clients = {}
    for n in range(sites):
        site = server.add_site(f"site-{n:04d}", api_secret=f"secret-{n:04d}-long-enough")
        in_flight.watch(site)
        roles = ["readable"] if n % 4 == 0 else None
        permissions = None if roles else UPLOADER
        token = site.create_access_token("s", permissions=permissions, roles=roles)
        clients[site.name] = _client(site.name, site.url, token)
    verdicts = Verdicts()
    try:
        checks = {n: c.check_at_start for n, c in clients.items()}
        async with LoopStalls() as stalls:
            await check_sites(checks, verdicts, at_once=at_once)
    finally:
        for client in clients.values():
            await client.aclose()
    assert len(verdicts.given) == sites
    refused = sorted(n for n, refusal in verdicts.given.items() if refusal is not None)
    assert refused == [f"site-{n:04d}" for n in range(0, sites, 4)]
    assert in_flight.most == at_once  # side by side, never more
    assert stalls.longest < scaled(0.25), f"the loop stood still for {stalls.longest:.2f} s"


async def test_a_site_slow_to_answer_does_not_hold_back_the_sites_behind_it(
    server: MultiSiteTestServer,
) -> None:
    slow = server.add_site("slow", api_secret="secret-of-slow-long-enough")
    good = server.add_site("good", api_secret="secret-of-good-long-enough")
    slow.faults = Faults(hang_rate=1.0, hang_seconds=None)
    clients = {
        site.name: _client(site.name, site.url, site.create_access_token("s", permissions=UPLOADER))
        for site in (slow, good)
    }
    verdicts = Verdicts()
    started = time.monotonic()
    try:
        checks = {name: c.check_at_start for name, c in clients.items()}
        await check_sites(checks, verdicts, at_once=1, check_seconds=0.5)
    finally:
        for client in clients.values():
            await client.aclose()
    assert verdicts.given == {"slow": None, "good": None}  # the slow one writes as usual
    assert time.monotonic() - started < scaled(3)  # not the 30 s request timeout

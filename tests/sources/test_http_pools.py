"""Links share one pool per host (within its budget) yet keep their own cookies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from nightstream.sources.http_pools import HostBudget, SharedPools


@dataclass
class Host:
    url: str
    peers: set[int] = field(default_factory=set)
    in_flight: int = 0
    most_in_flight: int = 0


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    runner: web.AppRunner | None = None
    state = Host("")

    async def login(request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        response.set_cookie("session", request.match_info["name"])
        return response

    async def whoami(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is not None:
            state.peers.add(peer[1])
        state.in_flight += 1
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        await asyncio.sleep(float(request.query.get("delay", "0")))
        state.in_flight -= 1
        return web.Response(text=request.cookies.get("session", "nobody"))

    app = web.Application()
    app.add_routes([web.get("/login/{name}", login), web.get("/whoami", whoami)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


async def test_links_keep_their_cookies_over_one_connection_and_cannot_close_it(
    host: Host,
) -> None:
    pools = SharedPools()
    ada = httpx.AsyncClient(transport=pools, base_url=host.url)
    bea = httpx.AsyncClient(transport=pools, base_url=host.url)
    await ada.get("/login/ada")
    await bea.get("/login/bea")
    assert (await ada.get("/whoami")).text == "ada"
    assert (await bea.get("/whoami")).text == "bea"
    assert len(host.peers) == 1
    await ada.aclose()  # a link going away must not drop the others' connections
    assert (await bea.get("/whoami")).text == "bea"
    assert len(host.peers) == 1
    assert pools.requests_by_host() == {host.url: 5}
    await pools.close_pools()  # the role ends; the next run opens a fresh pool
    assert (await bea.get("/whoami")).text == "bea"
    assert len(host.peers) == 2
    await pools.close_pools()


async def test_a_host_budget_caps_requests_in_flight_and_their_rate(host: Host) -> None:
    pools = SharedPools(default_budget=HostBudget(requests_per_second=10, max_in_flight=2))
    clients = [httpx.AsyncClient(transport=pools, base_url=host.url) for _ in range(6)]
    started = time.monotonic()
    answers = await asyncio.gather(
        *(c.get("/whoami", params={"delay": "0.05"}) for c in clients for _ in range(5))
    )
    elapsed = time.monotonic() - started
    assert [a.status_code for a in answers] == [200] * 30
    assert host.most_in_flight == 2
    # 10 at once (one second's worth), then 10 a second: the last 20 need about 2 s.
    assert elapsed >= 1.5
    await pools.close_pools()


async def test_each_vendor_gets_its_own_budget_on_a_host(host: Host) -> None:
    pools = SharedPools(vendor_budgets={"dexcomshare": HostBudget(1000, max_in_flight=1)})
    dexcom = [
        httpx.AsyncClient(transport=pools.for_vendor("dexcomshare"), base_url=host.url)
        for _ in range(4)
    ]
    await asyncio.gather(*(c.get("/whoami", params={"delay": "0.05"}) for c in dexcom))
    assert host.most_in_flight == 1
    # Another vendor on the same host has its own pool and the default budget.
    libre = [
        httpx.AsyncClient(transport=pools.for_vendor("librelinkup"), base_url=host.url)
        for _ in range(4)
    ]
    await asyncio.gather(*(c.get("/whoami", params={"delay": "0.2"}) for c in libre))
    assert host.most_in_flight == 4
    assert pools.requests_by_host() == {host.url: 8}
    await dexcom[0].aclose()  # a link's client cannot close the shared pools
    assert (await dexcom[1].get("/whoami")).status_code == 200
    await pools.close_pools()

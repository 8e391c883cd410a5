"""The aiohttp application: LibreLinkUp's paths under ``/<region>/`` for every region (and
``/global/``), with transport trouble (latency, outages, injected failures) in front.

Admin routes (``/__sim/...``) bypass the trouble.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sources.dexcomshare.simulator.http_app import ADMIN_PREFIX, to_response
from sources.dexcomshare.simulator.knobs import TransportKnobs, html_page
from sources.librelinkup.hosts import GLOBAL, KNOWN_REGIONS
from sources.librelinkup.protocol import CONNECTIONS_PATH, GRAPH_ENDPOINT, LOGIN_PATH
from sources.librelinkup.simulator.service import LluService
from sources.simclock import Clock

_REGION = "{region:" + "|".join((*KNOWN_REGIONS, GLOBAL)) + "}"


async def _trouble(
    knobs: TransportKnobs, clock: Clock, request: web.Request
) -> web.Response | None:
    """The answer the transport gives instead of LibreLinkUp, if any."""
    knobs.requests_total += 1
    if knobs.latency_s > 0:
        await asyncio.sleep(knobs.latency_s)
    outage = knobs.outage_at(clock.now_ms())
    if outage is None:
        failure = knobs.take_failure()
        return None if failure is None else to_response(failure)
    if outage.mode == "refuse" and request.transport is not None:
        # A host that is down drops the connection; the response below is never sent.
        request.transport.close()
    return web.Response(status=503, body=html_page(503), content_type="text/html")


def trouble_middleware(knobs: TransportKnobs, clock: Clock) -> Middleware:
    @web.middleware
    async def in_front(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(ADMIN_PREFIX):
            instead = await _trouble(knobs, clock, request)
            if instead is not None:
                return instead
        return await handler(request)

    return in_front


def llu_routes(service: LluService) -> list[web.RouteDef]:
    async def login(request: web.Request) -> web.Response:
        body = await request.read()
        return to_response(service.login(request.match_info["region"], request.headers, body))

    async def connections(request: web.Request) -> web.Response:
        return to_response(service.connections(request.match_info["region"], request.headers))

    async def graph(request: web.Request) -> web.Response:
        region, patient_id = request.match_info["region"], request.match_info["patient_id"]
        return to_response(service.graph(region, request.headers, patient_id))

    return [
        web.post(f"/{_REGION}{LOGIN_PATH}", login),
        web.get(f"/{_REGION}{CONNECTIONS_PATH}", connections),
        web.get(f"/{_REGION}{CONNECTIONS_PATH}/{{patient_id}}/{GRAPH_ENDPOINT}", graph),
    ]


def build_app(
    service: LluService, knobs: TransportKnobs, admin_routes: list[web.RouteDef]
) -> web.Application:
    app = web.Application(middlewares=[trouble_middleware(knobs, service.clock)])
    app.add_routes(llu_routes(service))
    app.add_routes(admin_routes)
    return app

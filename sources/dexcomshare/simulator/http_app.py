"""The aiohttp application: Share's paths for every region, transport knobs in front.

``/ShareWebServices/Services/...`` is the US server; ``/<region>/ShareWebServices/Services/...``
serves ``us``, ``ous`` and ``jp``. Admin routes (``/__sim/...``) bypass the knobs.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sources.dexcomshare.servers import REGIONS, SERVICES_PATH, Region, parse_region
from sources.dexcomshare.simulator.knobs import TransportKnobs, html_page
from sources.dexcomshare.simulator.replies import Reply
from sources.dexcomshare.simulator.service import ShareService

ADMIN_PREFIX = "/__sim/"


def to_response(reply: Reply) -> web.Response:
    response = web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    response.headers["Content-Type"] = reply.content_type
    return response


def knobs_middleware(knobs: TransportKnobs, service: ShareService) -> Middleware:
    @web.middleware
    async def apply_knobs(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        knobs.requests_total += 1
        if knobs.latency_s > 0:
            await asyncio.sleep(knobs.latency_s)
        outage = knobs.outage_at(service.clock.now_ms())
        if outage is not None and outage.mode == "refuse":
            # The listener is closed; a kept-alive connection must drop as well (the
            # response below goes nowhere).
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=503)
        if outage is not None:
            return web.Response(status=503, body=html_page(503), content_type="text/html")
        failure = knobs.take_failure()
        if failure is not None:
            return to_response(failure)
        return await handler(request)

    return apply_knobs


def share_routes(service: ShareService) -> list[web.RouteDef]:
    async def serve(request: web.Request) -> web.Response:
        region: Region = parse_region(request.match_info.get("region", "us"))
        body = await request.read()
        reply = service.handle(region, request.match_info["endpoint"], request.query, body)
        if reply is None:
            return web.Response(status=404, body=html_page(404), content_type="text/html")
        return to_response(reply)

    routes = [web.post(f"{SERVICES_PATH}/{{endpoint:.+}}", serve)]
    for region in REGIONS:
        routes.append(web.post(f"/{{region:{region}}}{SERVICES_PATH}/{{endpoint:.+}}", serve))
    return routes


def build_app(
    service: ShareService, knobs: TransportKnobs, admin_routes: list[web.RouteDef]
) -> web.Application:
    app = web.Application(middlewares=[knobs_middleware(knobs, service)])
    app.add_routes(share_routes(service))
    app.add_routes(admin_routes)
    return app

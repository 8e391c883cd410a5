"""Share's paths for every region: ``/ShareWebServices/Services/...`` is the US server;
``/<region>/ShareWebServices/Services/...`` serves ``us``, ``ous`` and ``jp``."""

from __future__ import annotations

from aiohttp import web

from nightstream.simulators.dexcomshare.service import ShareService
from nightstream.simulators.kit.replies import html_reply, to_response
from nightstream.sources.dexcomshare.servers import REGIONS, SERVICES_PATH, Region, parse_region


def share_routes(service: ShareService) -> list[web.RouteDef]:
    async def serve(request: web.Request) -> web.Response:
        region: Region = parse_region(request.match_info.get("region", "us"))
        body = await request.read()
        reply = service.handle(region, request.match_info["endpoint"], request.query, body)
        return to_response(html_reply(404) if reply is None else reply)

    routes = [web.post(f"{SERVICES_PATH}/{{endpoint:.+}}", serve)]
    for region in REGIONS:
        routes.append(web.post(f"/{{region:{region}}}{SERVICES_PATH}/{{endpoint:.+}}", serve))
    return routes

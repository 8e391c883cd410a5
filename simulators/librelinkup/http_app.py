"""LibreLinkUp's paths under ``/<region>/`` for every region, and ``/global/``."""

from __future__ import annotations

from aiohttp import web

from nightstream.simulators.kit.replies import to_response
from nightstream.simulators.librelinkup.service import LluService
from nightstream.sources.librelinkup.hosts import GLOBAL, KNOWN_REGIONS
from nightstream.sources.librelinkup.protocol import CONNECTIONS_PATH, GRAPH_ENDPOINT, LOGIN_PATH

_REGION = "{region:" + "|".join((*KNOWN_REGIONS, GLOBAL)) + "}"


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

"""The aiohttp application: routes and middleware in the order the real server applies them."""

from __future__ import annotations

from aiohttp import web

from nightstream.simulators.nightscout import admin, api_v1, api_v2_authorization
from nightstream.simulators.nightscout.middleware import (
    count_requests,
    inject_faults,
    redirect_plain_http,
)
from nightstream.simulators.nightscout.request_body import V3_BODY_LIMIT_BYTES
from nightstream.simulators.nightscout.state import STATE_KEY, ServerState
from nightstream.simulators.nightscout.v3_router import handle_v3


def build_application(state: ServerState) -> web.Application:
    # Body limits are enforced per API by the handlers, as the real body parsers do.
    app = web.Application(
        client_max_size=V3_BODY_LIMIT_BYTES + 1024 * 1024,
        middlewares=[count_requests, admin.require_api_secret, redirect_plain_http, inject_faults],
    )
    app[STATE_KEY] = state
    app.router.add_route("*", "/api/v3", handle_v3)
    app.router.add_route("*", "/api/v3/{tail:.*}", handle_v3)
    api_v2_authorization.add_routes(app)
    for path in ("/api/v1/{name}", "/api/v1/{name}/"):
        app.router.add_get(path, api_v1.get_collection)
        app.router.add_post(path, api_v1.post_collection)
    admin.add_routes(app)
    return app

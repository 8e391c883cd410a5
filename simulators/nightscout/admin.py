"""Test-control endpoints under ``/__testserver/`` (not part of Nightscout), for tests and demos
that drive the server from another process. Guarded by the header
``api-secret: <SHA-1 hex of API_SECRET>``.

- ``GET|POST|DELETE /__testserver/faults``: read, set (a ``Faults`` JSON object), clear
- ``GET|DELETE /__testserver/stats``: request counters, reset
- ``GET /__testserver/documents/{collection}?include_deleted=true``: stored documents
- ``POST /__testserver/access-tokens`` ``{name, permissions?, roles?}``: ``{accessToken}``
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from nightstream.simulators.nightscout.faults import Faults
from nightstream.simulators.nightscout.middleware import ADMIN_PREFIX
from nightstream.simulators.nightscout.request_body import BodyParseError, parse_json_text
from nightstream.simulators.nightscout.responses import json_response
from nightstream.simulators.nightscout.state import STATE_KEY, ServerState


def create_access_token(
    state: ServerState,
    name: str,
    permissions: list[str] | None = None,
    roles: list[str] | None = None,
) -> str:
    """A subject ``name`` holding ``roles`` plus, when given, its own role ``<name>-role`` with
    ``permissions``. Calling again with the same name redefines it and keeps its token."""
    role_names = list(roles or [])
    if permissions is not None:
        role_name = f"{name}-role"
        state.access.add_role(role_name, permissions)
        role_names.append(role_name)
    existing = state.access.find_subject_by_name(name)
    subject = state.access.add_subject(
        name, role_names, object_id=existing.object_id if existing else None
    )
    return subject.access_token


def _error(status: int, message: str) -> web.Response:
    return json_response({"status": status, "message": message}, status)


@web.middleware
async def require_api_secret(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        secret = request.headers.get("api-secret", "")
        if not request.app[STATE_KEY].access.is_api_secret_hash(secret):
            return _error(401, "api-secret header (SHA-1 hex of API_SECRET) required")
    return await handler(request)


async def _json_body(request: web.Request) -> Any:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return parse_json_text(text)
    except (ValueError, BodyParseError) as error:
        raise web.HTTPBadRequest(text=f"invalid JSON: {error}") from error


async def get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[STATE_KEY].fault_injector.faults.to_json())


async def set_faults(request: web.Request) -> web.Response:
    try:
        faults = Faults.from_json(await _json_body(request))
    except (TypeError, ValueError) as error:
        return _error(400, str(error))
    state = request.app[STATE_KEY]
    state.set_faults(faults)
    return json_response(faults.to_json())


async def clear_faults(request: web.Request) -> web.Response:
    request.app[STATE_KEY].set_faults(Faults())
    return json_response(Faults().to_json())


async def get_stats(request: web.Request) -> web.Response:
    return json_response(request.app[STATE_KEY].stats.to_json())


async def reset_stats(request: web.Request) -> web.Response:
    request.app[STATE_KEY].stats.reset()
    return json_response({})


async def get_documents(request: web.Request) -> web.Response:
    include_deleted = request.query.get("include_deleted", "").lower() in ("1", "true", "yes")
    try:
        documents = request.app[STATE_KEY].store.documents(
            request.match_info["collection"], include_deleted=include_deleted
        )
    except KeyError as error:
        return _error(404, str(error))
    return json_response(documents)


async def post_access_token(request: web.Request) -> web.Response:
    body = await _json_body(request)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        return _error(400, "name is required")
    permissions = body.get("permissions")
    roles = body.get("roles")
    token = create_access_token(
        request.app[STATE_KEY],
        name,
        [str(p) for p in permissions] if isinstance(permissions, list) else None,
        [str(r) for r in roles] if isinstance(roles, list) else None,
    )
    return json_response({"accessToken": token})


def add_routes(app: web.Application) -> None:
    base = ADMIN_PREFIX.rstrip("/")
    app.router.add_get(base + "/faults", get_faults)
    app.router.add_post(base + "/faults", set_faults)
    app.router.add_delete(base + "/faults", clear_faults)
    app.router.add_get(base + "/stats", get_stats)
    app.router.add_delete(base + "/stats", reset_stats)
    app.router.add_get(base + "/documents/{collection}", get_documents)
    app.router.add_post(base + "/access-tokens", post_access_token)

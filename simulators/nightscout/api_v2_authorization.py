"""``/api/v2/authorization``: exchange an access token for a JWT, and administer subjects and
roles (`lib/authorization/endpoints.js`). Administration uses v1-style authentication, so the
API secret's SHA-1 in an ``api-secret`` header is enough."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nightstream.simulators.nightscout.auth import Role, Subject
from nightstream.simulators.nightscout.authentication import authenticate_v1
from nightstream.simulators.nightscout.request_body import (
    V1_DEVICESTATUS_BODY_LIMIT_BYTES,
    BodyParseError,
    read_json_body,
)
from nightstream.simulators.nightscout.responses import (
    json_response,
    v1_status_response,
    v1_unauthorized,
)
from nightstream.simulators.nightscout.state import STATE_KEY


async def request_jwt(request: web.Request) -> web.Response:
    """Accepts an access token or a still-valid JWT; no failed-auth delay applies here."""
    granted = request.app[STATE_KEY].access.authorize(request.match_info["token"])
    if granted is None:
        return v1_unauthorized()
    return json_response(granted)


async def _permitted(request: web.Request, permission: str) -> bool:
    authorization = await authenticate_v1(request.app[STATE_KEY], request)
    return authorization is not None and authorization.allows(permission)


def _subject_json(subject: Subject) -> dict[str, Any]:
    return {
        "_id": subject.object_id,
        "name": subject.name,
        "accessToken": subject.access_token,
        "roles": subject.roles,
    }


def _role_json(role: Role) -> dict[str, Any]:
    body: dict[str, Any] = {"name": role.name, "permissions": list(role.permissions)}
    if role.object_id:
        body = {"_id": role.object_id, **body, "notes": role.notes}
    return body


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await read_json_body(request, V1_DEVICESTATUS_BODY_LIMIT_BYTES)
    except BodyParseError:
        return None
    return body if isinstance(body, dict) else None


async def list_subjects(request: web.Request) -> web.Response:
    if not await _permitted(request, "admin:api:subjects:read"):
        return v1_unauthorized()
    return json_response([_subject_json(s) for s in request.app[STATE_KEY].access.subjects()])


async def create_subject(request: web.Request) -> web.Response:
    """Like the real endpoint, the reply carries no access token: list the subjects for it."""
    if not await _permitted(request, "admin:api:subjects:create"):
        return v1_unauthorized()
    body = await _json_object(request)
    if body is None or not isinstance(body.get("name"), str) or not body["name"]:
        return v1_status_response(400, "Bad Request", "a subject needs a name")
    roles = body.get("roles")
    subject = request.app[STATE_KEY].access.add_subject(
        body["name"],
        [str(role) for role in roles] if isinstance(roles, list) else None,
        notes=str(body.get("notes", "")),
    )
    return json_response(
        {
            "_id": subject.object_id,
            "name": subject.name,
            "roles": subject.roles,
            "notes": subject.notes,
            "created_at": subject.created_at,
        }
    )


async def delete_subject(request: web.Request) -> web.Response:
    if not await _permitted(request, "admin:api:subjects:delete"):
        return v1_unauthorized()
    request.app[STATE_KEY].access.remove_subject(request.match_info["object_id"])
    return json_response({})


async def list_roles(request: web.Request) -> web.Response:
    if not await _permitted(request, "admin:api:roles:list"):
        return v1_unauthorized()
    return json_response([_role_json(role) for role in request.app[STATE_KEY].access.roles()])


async def create_role(request: web.Request) -> web.Response:
    if not await _permitted(request, "admin:api:roles:create"):
        return v1_unauthorized()
    body = await _json_object(request)
    if body is None or not isinstance(body.get("name"), str) or not body["name"]:
        return v1_status_response(400, "Bad Request", "a role needs a name")
    permissions = body.get("permissions", [])
    if isinstance(permissions, str):
        permissions = [permissions]
    role = request.app[STATE_KEY].access.add_role(
        body["name"], [str(p) for p in permissions], notes=str(body.get("notes", ""))
    )
    return json_response(_role_json(role))


def add_routes(app: web.Application) -> None:
    base = "/api/v2/authorization"
    app.router.add_get(base + "/request/{token}", request_jwt)
    app.router.add_get(base + "/subjects", list_subjects)
    app.router.add_post(base + "/subjects", create_subject)
    app.router.add_delete(base + "/subjects/{object_id}", delete_subject)
    app.router.add_get(base + "/roles", list_roles)
    app.router.add_post(base + "/roles", create_role)

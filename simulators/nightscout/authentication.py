"""Who is calling: v3 (Bearer JWT only, `lib/api3/security.js`) and v1/v2 (API secret hash,
JWT or access token, `lib/authorization/index.js` resolve)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout.auth import Authorization
from nightstream.simulators.nightscout.permissions import NOTHING
from nightstream.simulators.nightscout.responses import ApiError
from nightstream.simulators.nightscout.state import ServerState


def client_ip(request: web.Request) -> str:
    """npm ``forwarded-for``: the first X-Forwarded-For address, else the peer."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    first = forwarded.split(",")[0].strip()
    return first or request.remote or "unknown"


async def _wait_out_failed_auth_delay(state: ServerState, ip: str) -> None:
    remaining = state.delays.remaining_seconds(ip)
    if remaining > 0:
        await asyncio.sleep(remaining)


def _bearer_token(request: web.Request, *, case_sensitive: bool) -> str | None:
    parts = request.headers.get("Authorization", "").split(" ")
    if len(parts) != 2:
        return None
    scheme_matches = parts[0] == "Bearer" if case_sensitive else parts[0].lower() == "bearer"
    return parts[1] if scheme_matches and parts[1] else None


async def authenticate_v3(state: ServerState, request: web.Request) -> Authorization:
    """Raises 401; a valid JWT whose subject is gone authenticates with no permissions."""
    if not state.settings.api3_security_enabled:
        return state.access.admin_authorization()
    token = _bearer_token(request, case_sensitive=False)
    if token is None:
        raise ApiError(401, msg.MISSING_OR_BAD_TOKEN)
    ip = client_ip(request)
    await _wait_out_failed_auth_delay(state, ip)
    access_token = state.access.access_token_from_jwt(token)
    if access_token is None:
        state.delays.record_failure(ip)
        raise ApiError(401, msg.BAD_TOKEN)
    state.delays.record_success(ip)
    authorization = state.access.authorization_for_access_token(access_token)
    return authorization or Authorization(None, NOTHING)


def demand(authorization: Authorization, permission: str) -> None:
    if not authorization.allows(permission):
        raise ApiError(403, msg.MISSING_PERMISSION.format(permission))


async def authenticate_v1(state: ServerState, request: web.Request) -> Authorization | None:
    """None means the credentials were wrong (the caller answers 401 Unauthorized). Without
    credentials the caller gets the default roles."""
    secret = request.query.get("secret") or request.headers.get("api-secret") or None
    token = _bearer_token(request, case_sensitive=True)
    if token is None and request.query.get("token"):
        # An access token in ?token= is swapped for a JWT first; a bad one is simply ignored.
        granted = state.access.authorize(request.query["token"])
        token = granted["token"] if granted else None
    ip = client_ip(request)
    await _wait_out_failed_auth_delay(state, ip)
    if secret is None and token is None:
        return Authorization(None, state.access.default_grant())
    if secret is not None and state.access.is_api_secret_hash(secret):
        state.delays.record_success(ip)
        return state.access.admin_authorization()
    access_token = state.access.access_token_from_jwt(token) if token else None
    if access_token is None and secret is not None and state.access.find_subject(secret):
        access_token = secret
    if access_token is not None:
        state.delays.record_success(ip)
        return state.access.authorization_for_access_token(access_token)
    state.delays.record_failure(ip)
    return None

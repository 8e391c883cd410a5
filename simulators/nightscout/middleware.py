"""Cross-cutting request handling: counting, the https redirect, fault injection.

The test-control endpoints under ``/__testserver/`` are exempt from all three.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout.faults import FaultDecision, Faults
from nightstream.simulators.nightscout.responses import json_response
from nightstream.simulators.nightscout.state import STATE_KEY
from nightstream.simulators.nightscout.stats import COLLECTION_LABEL

ADMIN_PREFIX: Final = "/__testserver/"
_HANG_POLL_SECONDS: Final = 0.05


def api_label(path: str) -> str:
    for api in ("v1", "v2", "v3"):
        if path.startswith(f"/api/{api}/") or path == f"/api/{api}":
            return api
    return "other"


def _is_admin(request: web.Request) -> bool:
    return request.path.startswith(ADMIN_PREFIX)


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_admin(request):
        return await handler(request)
    status = 0
    try:
        response = await handler(request)
        transport = request.transport
        # A client that hung up (e.g. during an injected hang) never receives the answer.
        status = response.status if transport and not transport.is_closing() else 0
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        request.app[STATE_KEY].stats.record(
            api_label(request.path), request.method, request.get(COLLECTION_LABEL), status
        )


def _arrived_over_https(request: web.Request) -> bool:
    # Express with "trust proxy": the first X-Forwarded-Proto value decides.
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
    return request.secure or forwarded == "https"


@web.middleware
async def redirect_plain_http(request: web.Request, handler: Handler) -> web.StreamResponse:
    """INSECURE_USE_HTTP=false: 307 to https for anything that did not arrive over TLS."""
    settings = request.app[STATE_KEY].settings
    if settings.insecure_use_http or _is_admin(request) or _arrived_over_https(request):
        return await handler(request)
    location = f"https://{request.headers.get('Host', '')}{request.raw_path}"
    return web.Response(
        status=307,
        text=f"Temporary Redirect. Redirecting to {location}",
        headers={"Location": location},
    )


async def _hang(request: web.Request, seconds: float | None) -> None:
    """Stall until the time is up, the client hangs up, or the server stops."""
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    state = request.app[STATE_KEY]
    while not state.stopping:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        remaining = _HANG_POLL_SECONDS if deadline is None else deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(_HANG_POLL_SECONDS, remaining))


def _fault_response(decision: FaultDecision, faults: Faults) -> web.Response:
    if decision.kind == "rate_limit":
        return web.Response(
            status=429,
            text="Too Many Requests",
            headers={"Retry-After": str(faults.retry_after_seconds)},
        )
    if decision.status == 500:
        return json_response(msg.status_body(500, msg.INTERNAL_ERROR), 500)
    # What a proxy in front of Nightscout sends: not JSON.
    return web.Response(status=decision.status, text=f"{decision.status} injected fault")


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_admin(request):
        return await handler(request)
    state = request.app[STATE_KEY]
    decision = state.fault_injector.decide(request.method)
    if decision is None:
        return await handler(request)
    state.stats.record_fault(decision.label)
    faults = state.fault_injector.faults
    if not decision.after_write:
        if decision.kind == "hang":
            await _hang(request, faults.hang_seconds)
        return _fault_response(decision, faults)
    response = await handler(request)
    if decision.kind == "hang":
        # The write is stored and the real answer is sent, too late for a client that gave up.
        await _hang(request, faults.hang_seconds)
        return response
    return _fault_response(decision, faults)

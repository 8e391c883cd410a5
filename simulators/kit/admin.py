"""Admin HTTP routes under ``/__sim/``: the same knobs as a simulator's Python methods.

Every simulator has these, and adds its vendor's own:

    GET  /__sim/state            url, clock, transport knobs, plus the vendor's state
    POST /__sim/fail             {"count": 1, "status": 503, "retry_after": null, "body": null}
    POST /__sim/latency          {"seconds": 0.5}
    POST /__sim/down             {"duration_ms": 600000, "mode": "refuse" | "unavailable"}
    POST /__sim/up               {}
    POST /__sim/clock/advance    {"ms": 3600000}   (manual or accelerated clocks only)
    POST /__sim/reset            {}

Answers are ``{"ok": true}`` unless a knob says otherwise; bad fields answer 400, unknown
accounts 404. While down in "refuse" mode the port is closed, admin routes included.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, cast, get_args

from aiohttp import web
from aiohttp.typedefs import Handler

from nightstream.simulators.kit.knobs import ADMIN_PREFIX, DownMode
from nightstream.simulators.kit.server import SimulatorServer
from nightstream.sources.simclock import AdjustableClock, Clock


class Fields:
    """A JSON object from the request, read field by field with 400s for bad values."""

    def __init__(self, value: dict[str, Any]) -> None:
        self._value = value

    @classmethod
    async def of(cls, request: web.Request) -> Fields:
        raw = await request.read()
        if not raw.strip():
            return cls({})
        try:
            value = json.loads(raw)
        except ValueError:
            raise web.HTTPBadRequest(text="body must be a JSON object") from None
        if not isinstance(value, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return cls(value)

    def number(self, name: str, default: float | None = None) -> float:
        value = self._value.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise web.HTTPBadRequest(text=f"{name} must be a number")
        return float(value)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self._value.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise web.HTTPBadRequest(text=f"{name} must be an integer")
        return value

    def optional_number(self, name: str) -> float | None:
        return None if self._value.get(name) is None else self.number(name)

    def text(self, name: str, default: str | None = None) -> str:
        value = self._value.get(name, default)
        if not isinstance(value, str):
            raise web.HTTPBadRequest(text=f"{name} must be a string")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self._value.get(name) is None else self.text(name)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._value.get(name, default)
        if not isinstance(value, bool):
            raise web.HTTPBadRequest(text=f"{name} must be true or false")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise web.HTTPBadRequest(text=f"{name} must be one of {', '.join(choices)}")
        return value


Knob = Callable[[Fields], object]
"""Turns a knob with the request's fields. Returns None (answered ``{"ok": true}``), a JSON
value, a ready response, or an awaitable of one of those."""


def knob_route(knob: Knob) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        fields = await Fields.of(request)
        try:
            result = knob(fields)
            if inspect.isawaitable(result):
                result = await result
        except KeyError:
            raise web.HTTPNotFound(text="no such account") from None
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"ok": True} if result is None else result)

    return handle


def transport_state(sim: SimulatorServer) -> dict[str, object]:
    now_ms = sim.clock.now_ms()
    return {"url": sim.url, "now_ms": now_ms, "clock": repr(sim.clock), **sim.knobs.state(now_ms)}


def _advance(clock: Clock, ms: int) -> dict[str, int]:
    if not isinstance(clock, AdjustableClock):
        raise web.HTTPConflict(text="this simulator follows the real clock")
    clock.advance(ms)
    return {"now_ms": clock.now_ms()}


def _transport_knobs(sim: SimulatorServer) -> dict[str, Knob]:
    def fail(f: Fields) -> None:
        body = f.optional_text("body")
        sim.fail_next(
            f.integer("count", 1),
            status=f.integer("status", 503),
            retry_after=f.optional_number("retry_after"),
            body=None if body is None else body.encode(),
        )

    async def reset(f: Fields) -> None:
        sim.reset()
        await sim.come_back()

    return {
        "fail": fail,
        "latency": lambda f: sim.set_latency(f.number("seconds")),
        "down": lambda f: sim.go_down(
            f.integer("duration_ms"),
            mode=cast(DownMode, f.choice("mode", get_args(DownMode), "refuse")),
        ),
        "up": lambda f: sim.come_back(),
        "clock/advance": lambda f: _advance(sim.clock, f.integer("ms")),
        "reset": reset,
    }


def admin_routes(
    sim: SimulatorServer, state: Callable[[], dict[str, object]], knobs: Mapping[str, Knob]
) -> list[web.RouteDef]:
    """``GET /__sim/state`` (the transport's state and ``state()``), and one POST per knob:
    the common ones above plus the vendor's ``knobs``."""

    async def show_state(request: web.Request) -> web.Response:
        return web.json_response({**transport_state(sim), **state()})

    posts = {**_transport_knobs(sim), **knobs}
    routes = [web.get(f"{ADMIN_PREFIX}state", show_state)]
    routes += [web.post(f"{ADMIN_PREFIX}{name}", knob_route(knob)) for name, knob in posts.items()]
    return routes

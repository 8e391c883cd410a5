"""Admin HTTP routes of the simulator, under ``/__sim/``: the same knobs as the Python methods.

    GET  /__sim/state                 accounts (no passwords), counters, knobs, clock
    POST /__sim/fail                  {"count": 1, "status": 503, "retry_after": null, "body": null}
    POST /__sim/latency               {"seconds": 0.5}
    POST /__sim/down                  {"duration_ms": 600000, "mode": "refuse" | "unavailable"}
    POST /__sim/up                    {}
    POST /__sim/expire-sessions       {"forget": false}
    POST /__sim/reject-reads          {"count": 1, "code": "SessionNotValid"}
    POST /__sim/malformed             {"username": null, "kind": "bad_date", "count": 1}
    POST /__sim/lock                  {"username": "..."}
    POST /__sim/accounts              {"username": "...", "password": "...", "region": "us", ...}
    POST /__sim/clock/advance         {"ms": 3600000}   (manual or accelerated clocks only)
    POST /__sim/reset                 {}

While down in "refuse" mode the port is closed, admin routes included.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast, get_args

from aiohttp import web

from sources.dexcomshare.servers import parse_region
from sources.dexcomshare.simulator.accounts import ShareSetup, SimAccount
from sources.dexcomshare.simulator.formats import (
    MALFORMED_KINDS,
    DateStyle,
    MalformedKind,
    TrendStyle,
)
from sources.dexcomshare.simulator.knobs import DownMode
from sources.simclock import AdjustableClock

if TYPE_CHECKING:
    from sources.dexcomshare.simulator.server import ShareSimulator


class _Fields:
    """A JSON object from the request, read field by field with 400s for bad values."""

    def __init__(self, value: dict[str, Any]) -> None:
        self._value = value

    @classmethod
    async def of(cls, request: web.Request) -> _Fields:
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


def state_of(sim: ShareSimulator) -> dict[str, object]:
    outage = sim.knobs.outage_at(sim.clock.now_ms())
    return {
        "url": sim.url,
        "now_ms": sim.clock.now_ms(),
        "clock": repr(sim.clock),
        "accounts": [
            {
                "username": account.username,
                "region": account.region,
                "account_id": account.account_id,
                "base_url": sim.base_url(account.region),
                "date_style": account.date_style,
                "trend_style": account.trend_style,
                "share": account.share,
            }
            for account in sim.accounts
        ],
        "counters": {key: c.as_dict() for key, c in sim.service.all_counters().items()},
        "sessions": len(sim.service.sessions),
        "requests_total": sim.knobs.requests_total,
        "injected_total": sim.knobs.injected_total,
        "pending_failures": sim.knobs.pending_failures(),
        "latency_s": sim.knobs.latency_s,
        "outage": None if outage is None else {"until_ms": outage.until_ms, "mode": outage.mode},
    }


def admin_routes(sim: ShareSimulator) -> list[web.RouteDef]:
    def done() -> web.Response:
        return web.json_response({"ok": True})

    async def state(request: web.Request) -> web.Response:
        return web.json_response(state_of(sim))

    async def fail(request: web.Request) -> web.Response:
        fields = await _Fields.of(request)
        body = fields.optional_text("body")
        sim.fail_next(
            fields.integer("count", 1),
            status=fields.integer("status", 503),
            retry_after=fields.optional_number("retry_after"),
            body=None if body is None else body.encode(),
        )
        return done()

    async def latency(request: web.Request) -> web.Response:
        sim.set_latency((await _Fields.of(request)).number("seconds"))
        return done()

    async def down(request: web.Request) -> web.Response:
        fields = await _Fields.of(request)
        mode = cast(DownMode, fields.choice("mode", get_args(DownMode), "refuse"))
        await sim.go_down(fields.integer("duration_ms"), mode=mode)
        return done()

    async def up(request: web.Request) -> web.Response:
        await sim.come_back()
        return done()

    async def expire_sessions(request: web.Request) -> web.Response:
        sim.expire_sessions(forget=(await _Fields.of(request)).flag("forget"))
        return done()

    async def reject_reads(request: web.Request) -> web.Response:
        fields = await _Fields.of(request)
        sim.reject_next_reads(fields.integer("count", 1), fields.text("code", "SessionNotValid"))
        return done()

    async def malformed(request: web.Request) -> web.Response:
        fields = await _Fields.of(request)
        kind = cast(MalformedKind, fields.choice("kind", MALFORMED_KINDS, "bad_date"))
        sim.inject_malformed_reading(
            fields.optional_text("username"), kind=kind, count=fields.integer("count", 1)
        )
        return done()

    async def lock(request: web.Request) -> web.Response:
        username = (await _Fields.of(request)).text("username")
        try:
            sim.lock_account(username)
        except KeyError:
            raise web.HTTPNotFound(text="no such account") from None
        return done()

    async def add_account(request: web.Request) -> web.Response:
        fields = await _Fields.of(request)
        try:
            account = SimAccount(
                username=fields.text("username"),
                password=fields.text("password"),
                region=parse_region(fields.text("region", "us")),
                account_id=fields.text("account_id", ""),
                utc_offset_minutes=fields.integer("utc_offset_minutes", 0),
                date_style=cast(
                    DateStyle, fields.choice("date_style", get_args(DateStyle), "current")
                ),
                trend_style=cast(
                    TrendStyle, fields.choice("trend_style", get_args(TrendStyle), "string")
                ),
                share=cast(ShareSetup, fields.choice("share", get_args(ShareSetup), "ok")),
            )
            sim.add_account(account)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return web.json_response({"account_id": account.account_id}, status=201)

    async def advance_clock(request: web.Request) -> web.Response:
        ms = (await _Fields.of(request)).integer("ms")
        if not isinstance(sim.clock, AdjustableClock):
            raise web.HTTPConflict(text="this simulator follows the real clock")
        try:
            sim.clock.advance(ms)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return web.json_response({"now_ms": sim.clock.now_ms()})

    async def reset(request: web.Request) -> web.Response:
        sim.reset()
        await sim.come_back()
        return done()

    return [
        web.get("/__sim/state", state),
        web.post("/__sim/fail", fail),
        web.post("/__sim/latency", latency),
        web.post("/__sim/down", down),
        web.post("/__sim/up", up),
        web.post("/__sim/expire-sessions", expire_sessions),
        web.post("/__sim/reject-reads", reject_reads),
        web.post("/__sim/malformed", malformed),
        web.post("/__sim/lock", lock),
        web.post("/__sim/accounts", add_account),
        web.post("/__sim/clock/advance", advance_clock),
        web.post("/__sim/reset", reset),
    ]

"""Admin HTTP routes of the simulator, under ``/__sim/``: the same knobs as the Python methods.

    GET  /__sim/state               accounts (no passwords), counters, knobs, clock
    POST /__sim/fail                {"count": 1, "status": 503, "retry_after": null, "body": null}
    POST /__sim/latency             {"seconds": 0.5}
    POST /__sim/down                {"duration_ms": 600000, "mode": "refuse" | "unavailable"}
    POST /__sim/up                  {}
    POST /__sim/expire-tickets      {}
    POST /__sim/lock                {"email": "..."}
    POST /__sim/step                {"email": "...", "step": "tou" | "pp" | "verifyEmail" | null}
    POST /__sim/minimum-version     {"version": "4.17.0"}
    POST /__sim/malformed           {"count": 1}
    POST /__sim/accounts            {"email": "...", "password": "...", "region": "eu",
                                     "patient_ids": "id-1,id-2"}
    POST /__sim/clock/advance       {"ms": 3600000}   (manual or accelerated clocks only)
    POST /__sim/reset               {}

Answers are ``{"ok": true}`` unless said otherwise; bad fields answer 400, unknown accounts 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast, get_args

from aiohttp import web
from aiohttp.typedefs import Handler

from sources.dexcomshare.simulator.admin import _Fields
from sources.dexcomshare.simulator.knobs import DownMode, TransportKnobs
from sources.librelinkup.hosts import region_key
from sources.librelinkup.simulator.accounts import STEP_TYPES, LluAccount, SimPatient, StepType
from sources.simclock import AdjustableClock

if TYPE_CHECKING:
    from sources.librelinkup.simulator.server import LluSimulator

Knob = Callable[[_Fields], object]


def _transport_state(knobs: TransportKnobs, now_ms: int) -> dict[str, object]:
    outage = knobs.outage_at(now_ms)
    shown = {name: getattr(knobs, name) for name in ("requests_total", "injected_total")}
    shown["pending_failures"] = knobs.pending_failures()
    shown["latency_s"] = knobs.latency_s
    shown["outage"] = None if outage is None else {"until_ms": outage.until_ms, "mode": outage.mode}
    return shown


def state_of(sim: LluSimulator) -> dict[str, object]:
    now_ms = sim.clock.now_ms()
    accounts = [
        {
            "email": account.email,
            "region": account.region,
            "base_url": sim.base_url(account.region),
            "step": account.step,
            "patients": [
                {"patient_id": p.patient_id, "first_name": p.first_name} for p in account.patients
            ],
        }
        for account in sim.service.accounts
    ]
    return {
        "url": sim.url,
        "now_ms": now_ms,
        "clock": repr(sim.clock),
        "minimum_version": sim.service.minimum_version,
        "accounts": accounts,
        "counters": {key: c.as_dict() for key, c in sim.service.all_counters().items()},
        "tickets": len(sim.service.tickets),
        **_transport_state(sim.knobs, now_ms),
    }


def _route(knob: Knob) -> Handler:
    """A POST handler: read the JSON fields, turn the knob, answer its result or ``ok``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        fields = await _Fields.of(request)
        try:
            result = knob(fields)
        except KeyError:
            raise web.HTTPNotFound(text="no such account") from None
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return web.json_response({"ok": True} if result is None else result)

    return handle


def _step(fields: _Fields) -> StepType | None:
    step = fields.optional_text("step")
    if step is not None and step not in STEP_TYPES:
        raise ValueError(f"step must be null or one of {', '.join(STEP_TYPES)}")
    return step


def _account(fields: _Fields) -> LluAccount:
    ids = fields.text("patient_ids", "").split(",")
    return LluAccount(
        email=fields.text("email"),
        password=fields.text("password"),
        region=region_key(fields.text("region", "eu")),
        patients=tuple(SimPatient(patient_id.strip()) for patient_id in ids if patient_id.strip()),
    )


def _advance(clock: object, ms: int) -> dict[str, int]:
    if not isinstance(clock, AdjustableClock):
        raise web.HTTPConflict(text="this simulator follows the real clock")
    clock.advance(ms)
    return {"now_ms": clock.now_ms()}


def admin_routes(sim: LluSimulator) -> list[web.RouteDef]:
    knobs = sim.knobs

    def fail(f: _Fields) -> None:
        body = f.optional_text("body")
        status, count = f.integer("status", 503), f.integer("count", 1)
        retry_after = f.optional_number("retry_after")
        encoded = None if body is None else body.encode()
        knobs.fail_next(count, status=status, retry_after=retry_after, body=encoded)

    def add_account(f: _Fields) -> dict[str, str]:
        account = _account(f)
        sim.service.add_accounts([account])
        return {"user_id": account.user_id}

    posts: dict[str, Knob] = {
        "fail": fail,
        "latency": lambda f: setattr(knobs, "latency_s", max(0.0, f.number("seconds"))),
        "down": lambda f: sim.go_down(
            f.integer("duration_ms"),
            mode=cast(DownMode, f.choice("mode", get_args(DownMode), "refuse")),
        ),
        "up": lambda f: setattr(knobs, "outage", None),
        "expire-tickets": lambda f: sim.expire_tickets(),
        "lock": lambda f: sim.lock_account(f.text("email")),
        "step": lambda f: sim.require_step(f.text("email"), _step(f)),
        "minimum-version": lambda f: sim.set_minimum_version(f.text("version")),
        "malformed": lambda f: sim.inject_malformed_points(f.integer("count", 1)),
        "accounts": add_account,
        "clock/advance": lambda f: _advance(sim.clock, f.integer("ms")),
        "reset": lambda f: sim.reset(),
    }

    async def state(request: web.Request) -> web.Response:
        return web.json_response(state_of(sim))

    routes = [web.get("/__sim/state", state)]
    routes += [web.post(f"/__sim/{name}", _route(knob)) for name, knob in posts.items()]
    return routes

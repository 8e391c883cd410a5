"""Share's admin routes, besides the common ones (``nightstream.simulators.kit.admin``):

GET  /__sim/state                 also accounts (no passwords), counters, sessions
POST /__sim/expire-sessions       {"forget": false}
POST /__sim/reject-reads          {"count": 1, "code": "SessionNotValid"}
POST /__sim/malformed             {"username": null, "kind": "bad_date", "count": 1}
POST /__sim/lock                  {"username": "..."}
POST /__sim/inflate               {"username": "...", "size_bytes": 17000000, "count": 1}
POST /__sim/revise                {"username": "...", "time_ms": 1745081013817, "mgdl": 142}
POST /__sim/accounts              {"username": "...", "password": "...", "region": "us", ...}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast, get_args

from aiohttp import web

from nightstream.simulators.dexcomshare.accounts import ShareSetup, SimAccount
from nightstream.simulators.dexcomshare.formats import (
    MALFORMED_KINDS,
    DateStyle,
    MalformedKind,
    TrendStyle,
)
from nightstream.simulators.kit.admin import Fields, Knob, admin_routes
from nightstream.sources.dexcomshare.servers import parse_region

if TYPE_CHECKING:
    from nightstream.simulators.dexcomshare.server import ShareSimulator


def state_of(sim: ShareSimulator) -> dict[str, object]:
    return {
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
    }


def _account(f: Fields) -> SimAccount:
    return SimAccount(
        username=f.text("username"),
        password=f.text("password"),
        region=parse_region(f.text("region", "us")),
        account_id=f.text("account_id", ""),
        utc_offset_minutes=f.integer("utc_offset_minutes", 0),
        date_style=cast(DateStyle, f.choice("date_style", get_args(DateStyle), "current")),
        trend_style=cast(TrendStyle, f.choice("trend_style", get_args(TrendStyle), "string")),
        share=cast(ShareSetup, f.choice("share", get_args(ShareSetup), "ok")),
    )


def share_admin_routes(sim: ShareSimulator) -> list[web.RouteDef]:
    def add_account(f: Fields) -> web.Response:
        account = _account(f)
        sim.add_account(account)
        return web.json_response({"account_id": account.account_id}, status=201)

    def malformed(f: Fields) -> None:
        kind = cast(MalformedKind, f.choice("kind", MALFORMED_KINDS, "bad_date"))
        sim.inject_malformed_reading(
            f.optional_text("username"), kind=kind, count=f.integer("count", 1)
        )

    def revise(f: Fields) -> dict[str, int]:
        revised = sim.revise_reading(f.text("username"), f.integer("time_ms"), f.integer("mgdl"))
        return {"time_ms": revised.time_ms, "mgdl": revised.mgdl}

    knobs: dict[str, Knob] = {
        "expire-sessions": lambda f: sim.expire_sessions(forget=f.flag("forget")),
        "reject-reads": lambda f: sim.reject_next_reads(
            f.integer("count", 1), f.text("code", "SessionNotValid")
        ),
        "malformed": malformed,
        "lock": lambda f: sim.lock_account(f.text("username")),
        "inflate": lambda f: sim.inflate_next_reads(
            f.text("username"), f.integer("size_bytes"), f.integer("count", 1)
        ),
        "revise": revise,
        "accounts": add_account,
    }
    return admin_routes(sim, lambda: state_of(sim), knobs)

"""Tandem's admin routes, besides the common ones (``nightstream.simulators.kit.admin``):

GET  /__sim/state            also accounts (no passwords), pumps, counters
POST /__sim/expire-tokens    {}
POST /__sim/ban              {"email": "..."}
POST /__sim/account          {"email": "...", "mfa": false, "consent": false}
POST /__sim/malformed        {"count": 1}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from nightstream.simulators.kit.admin import Fields, Knob, admin_routes

if TYPE_CHECKING:
    from nightstream.simulators.tandem.server import TandemSimulator


def state_of(sim: TandemSimulator) -> dict[str, object]:
    accounts = [
        {
            "email": account.email,
            "region": account.region,
            "mfa": account.mfa,
            "consent": account.consent,
            "pumps": [
                {"serial": p.serial, "model": p.model, "assignment_id": p.assignment_id}
                for p in account.pumps
            ],
        }
        for account in sim.service.accounts
    ]
    return {"accounts": accounts, "counters": sim.service.all_counters()}


def tandem_admin_routes(sim: TandemSimulator) -> list[web.RouteDef]:
    def account(f: Fields) -> None:
        sim.set_account(f.text("email"), mfa=f.flag("mfa"), consent=f.flag("consent"))

    knobs: dict[str, Knob] = {
        "expire-tokens": lambda f: sim.expire_tokens(),
        "ban": lambda f: sim.ban(f.text("email")),
        "account": account,
        "malformed": lambda f: sim.inject_malformed_events(f.integer("count", 1)),
    }
    return admin_routes(sim, lambda: state_of(sim), knobs)

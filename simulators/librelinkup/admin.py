"""LibreLinkUp's admin routes, besides the common ones (``nightstream.simulators.kit.admin``):

GET  /__sim/state               also minimum version, accounts (no passwords), counters,
                                logins per host
POST /__sim/expire-tickets      {}
POST /__sim/lock                {"email": "..."}
POST /__sim/step                {"email": "...", "step": "tou" | "pp" | "verifyEmail" | null}
POST /__sim/minimum-version     {"version": "4.17.0"}
POST /__sim/malformed           {"count": 1}
POST /__sim/accounts            {"email": "...", "password": "...", "region": "eu",
                                 "patient_ids": "id-1,id-2"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from nightstream.simulators.kit.admin import Fields, Knob, admin_routes
from nightstream.simulators.librelinkup.accounts import STEP_TYPES, LluAccount, SimPatient, StepType
from nightstream.sources.librelinkup.hosts import region_key

if TYPE_CHECKING:
    from nightstream.simulators.librelinkup.server import LluSimulator


def state_of(sim: LluSimulator) -> dict[str, object]:
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
        "minimum_version": sim.service.minimum_version,
        "accounts": accounts,
        "counters": {key: c.as_dict() for key, c in sim.service.all_counters().items()},
        "logins_by_host": sim.service.all_logins_by_host(),
        "tickets": len(sim.service.tickets),
    }


def _step(fields: Fields) -> StepType | None:
    step = fields.optional_text("step")
    if step is not None and step not in STEP_TYPES:
        raise ValueError(f"step must be null or one of {', '.join(STEP_TYPES)}")
    return step


def _account(fields: Fields) -> LluAccount:
    ids = fields.text("patient_ids", "").split(",")
    return LluAccount(
        email=fields.text("email"),
        password=fields.text("password"),
        region=region_key(fields.text("region", "eu")),
        patients=tuple(SimPatient(patient_id.strip()) for patient_id in ids if patient_id.strip()),
    )


def llu_admin_routes(sim: LluSimulator) -> list[web.RouteDef]:
    def add_account(f: Fields) -> dict[str, str]:
        account = _account(f)
        sim.service.add_accounts([account])
        return {"user_id": account.user_id}

    knobs: dict[str, Knob] = {
        "expire-tickets": lambda f: sim.expire_tickets(),
        "lock": lambda f: sim.lock_account(f.text("email")),
        "step": lambda f: sim.require_step(f.text("email"), _step(f)),
        "minimum-version": lambda f: sim.set_minimum_version(f.text("version")),
        "malformed": lambda f: sim.inject_malformed_points(f.integer("count", 1)),
        "accounts": add_account,
    }
    return admin_routes(sim, lambda: state_of(sim), knobs)

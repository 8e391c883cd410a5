"""A LibreLinkUp simulator for tests and the demo (``python -m sources.librelinkup.simulator``)."""

from __future__ import annotations

from sources.librelinkup.simulator.accounts import LluAccount, SimPatient, generate_accounts
from sources.librelinkup.simulator.counters import LluCounters
from sources.librelinkup.simulator.options import ABBOTT_LOCKOUT, SimOptions
from sources.librelinkup.simulator.server import LluSimulator
from sources.simulator_kit.lockout import LockoutPolicy

__all__ = [
    "ABBOTT_LOCKOUT",
    "LluAccount",
    "LluCounters",
    "LluSimulator",
    "LockoutPolicy",
    "SimOptions",
    "SimPatient",
    "generate_accounts",
]

"""A LibreLinkUp simulator for tests and the demo (``python -m sources.librelinkup.simulator``)."""

from __future__ import annotations

from sources.librelinkup.simulator.accounts import LluAccount, SimPatient, generate_accounts
from sources.librelinkup.simulator.counters import LluCounters
from sources.librelinkup.simulator.lockout import LockoutPolicy
from sources.librelinkup.simulator.server import LluSimulator

__all__ = [
    "LluAccount",
    "LluCounters",
    "LluSimulator",
    "LockoutPolicy",
    "SimPatient",
    "generate_accounts",
]

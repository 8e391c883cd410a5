"""A LibreLinkUp simulator for tests and the demo.

``python -m nightstream.simulators.librelinkup``
"""

from __future__ import annotations

from nightstream.simulators.kit.lockout import LockoutPolicy
from nightstream.simulators.librelinkup.accounts import LluAccount, SimPatient, generate_accounts
from nightstream.simulators.librelinkup.counters import LluCounters
from nightstream.simulators.librelinkup.options import ABBOTT_LOCKOUT, SimOptions
from nightstream.simulators.librelinkup.server import LluSimulator

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

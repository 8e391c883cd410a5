"""A Dexcom Share simulator for tests and the demo (``python -m sources.dexcomshare.simulator``)."""

from __future__ import annotations

from sources.dexcomshare.simulator.accounts import SimAccount, generate_accounts
from sources.dexcomshare.simulator.counters import AccountCounters
from sources.dexcomshare.simulator.server import ShareSimulator
from sources.dexcomshare.simulator.service import DEXCOM_LOCKOUT
from sources.simclock import (
    AcceleratedClock,
    AdjustableClock,
    Clock,
    ManualClock,
    SystemClock,
)
from sources.simulator_kit.lockout import LockoutPolicy

__all__ = [
    "DEXCOM_LOCKOUT",
    "AcceleratedClock",
    "AccountCounters",
    "AdjustableClock",
    "Clock",
    "LockoutPolicy",
    "ManualClock",
    "ShareSimulator",
    "SimAccount",
    "SystemClock",
    "generate_accounts",
]

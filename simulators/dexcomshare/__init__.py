"""A Dexcom Share simulator for tests and the demo.

``python -m nightstream.simulators.dexcomshare``
"""

from __future__ import annotations

from nightstream.simulators.dexcomshare.accounts import SimAccount, generate_accounts
from nightstream.simulators.dexcomshare.counters import AccountCounters
from nightstream.simulators.dexcomshare.server import ShareSimulator
from nightstream.simulators.dexcomshare.service import DEXCOM_LOCKOUT
from nightstream.simulators.kit.lockout import LockoutPolicy
from nightstream.sources.simclock import (
    AcceleratedClock,
    AdjustableClock,
    Clock,
    ManualClock,
    SystemClock,
)

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

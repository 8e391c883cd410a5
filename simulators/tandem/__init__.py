"""A Tandem Source simulator for tests and the demo."""

from __future__ import annotations

from nightstream.simulators.tandem.accounts import (
    ClockChange,
    SimPump,
    TandemAccount,
    generate_accounts,
)
from nightstream.simulators.tandem.options import SimOptions
from nightstream.simulators.tandem.server import TandemSimulator

__all__ = [
    "ClockChange",
    "SimOptions",
    "SimPump",
    "TandemAccount",
    "TandemSimulator",
    "generate_accounts",
]

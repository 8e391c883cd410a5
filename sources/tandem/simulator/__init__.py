"""A Tandem Source simulator for tests and the demo."""

from __future__ import annotations

from sources.tandem.simulator.accounts import ClockChange, SimPump, TandemAccount, generate_accounts
from sources.tandem.simulator.options import SimOptions
from sources.tandem.simulator.server import TandemSimulator

__all__ = [
    "ClockChange",
    "SimOptions",
    "SimPump",
    "TandemAccount",
    "TandemSimulator",
    "generate_accounts",
]

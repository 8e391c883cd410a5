"""How a simulated LibreLinkUp behaves, beyond its accounts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sources.dexcomshare.simulator.glucose import DAY_MS
from sources.librelinkup.protocol import DEFAULT_VERSION
from sources.librelinkup.simulator.feed import DEFAULT_HISTORY_STEP_MS
from sources.librelinkup.simulator.lockout import LockoutPolicy


@dataclass(frozen=True, slots=True)
class SimOptions:
    seed: int = 0
    """Same seed, same glucose curves and sensors."""
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    ticket_ttl_ms: int = 180 * DAY_MS
    """Lifetime of a full login's ticket (180 days in the fixtures)."""
    history_step_ms: int = DEFAULT_HISTORY_STEP_MS
    minimum_version: str = DEFAULT_VERSION
    """Below this ``version`` header every call answers status 920 (a knob can raise it)."""

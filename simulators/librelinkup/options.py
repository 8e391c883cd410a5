"""How a simulated LibreLinkUp behaves, beyond its accounts."""

from __future__ import annotations

from dataclasses import dataclass

from nightstream.simulators.kit.glucose import DAY_MS, MINUTE_MS
from nightstream.simulators.kit.lockout import LockoutPolicy
from nightstream.simulators.kit.quota import QuotaPolicy
from nightstream.simulators.librelinkup.feed import DEFAULT_HISTORY_STEP_MS
from nightstream.sources.librelinkup.protocol import DEFAULT_VERSION

# The one lockout answer seen in the wild announces 3 failures within 60 s -> 300 s locked, and
# reports exactly those numbers back, which is what this simulator does too.
ABBOTT_LOCKOUT = LockoutPolicy(failures=3, lockout_ms=5 * MINUTE_MS, interval_ms=MINUTE_MS)
# Bursts answer HTTP 429 per account (the limit is not published): a follower app polls once a
# minute, so 30 data calls in a minute is a burst by any measure.
ABBOTT_CALL_QUOTA = QuotaPolicy(requests=30, interval_ms=MINUTE_MS)


@dataclass(frozen=True, slots=True)
class SimOptions:
    seed: int = 0
    """Same seed, same glucose curves and sensors."""
    lockout: LockoutPolicy = ABBOTT_LOCKOUT
    call_quota: QuotaPolicy | None = ABBOTT_CALL_QUOTA
    """Data calls (connections, graph) per account; None: no limit."""
    ticket_ttl_ms: int = 180 * DAY_MS
    """Lifetime of a full login's ticket (180 days in the fixtures)."""
    history_step_ms: int = DEFAULT_HISTORY_STEP_MS
    minimum_version: str = DEFAULT_VERSION
    """Below this ``version`` header every call answers status 920 (a knob can raise it)."""

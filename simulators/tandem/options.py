"""Knobs of the simulated Tandem Source that tests set once, at start."""

from __future__ import annotations

from dataclasses import dataclass

from nightstream.simulators.kit.glucose import HOUR_MS, MINUTE_MS
from nightstream.simulators.kit.lockout import LockoutPolicy

# Logins that come too often get the client banned by the firewall for a while (the reference
# names the risk, not the numbers: these are guesses on the safe side).
WAF_LOGIN_BAN = LockoutPolicy(failures=6, lockout_ms=HOUR_MS, interval_ms=10 * MINUTE_MS)


@dataclass(frozen=True, slots=True)
class SimOptions:
    seed: int = 0
    token_ttl_s: int = 30 * 60
    """``expires_in`` of access tokens (about 30 min in late 2025, about 8 h in 2024)."""
    data_requests_per_minute: int = 120
    """Per account; more answer 429 with Retry-After."""
    login_ban: LockoutPolicy = WAF_LOGIN_BAN
    max_window_days: int = 31
    """Longer pump-log windows answer 400 "Check input parameters"."""

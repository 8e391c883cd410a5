"""Retry timing: exponential backoff with full jitter, a cap, and an optional time limit."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    base: float = 1.0
    """Upper bound of the first delay, in seconds; it doubles with each failed attempt."""
    cap: float = 300.0
    """No delay is longer than this (unless the server asks for more with Retry-After)."""
    max_elapsed: float | None = None
    """Give up after this many seconds of failing; None retries forever (the data waits)."""

    def __post_init__(self) -> None:
        if self.base <= 0:
            raise ValueError("retry base must be > 0")
        if self.cap < self.base:
            raise ValueError("retry cap must be >= base")
        if self.max_elapsed is not None and self.max_elapsed < 0:
            raise ValueError("retry max_elapsed must be >= 0 or None")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)], attempt counting from 0."""
        ceiling = self.cap if attempt >= 63 else min(self.cap, self.base * 2.0**attempt)
        return (rng or random).uniform(0.0, ceiling)


class Backoff:
    """Delays for one operation's consecutive failures under a policy."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._started = clock()
        self.attempts = 0

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when the policy says give up."""
        delay = self._policy.delay(self.attempts, self._rng)
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.attempts += 1
        limit = self._policy.max_elapsed
        if limit is not None and self.elapsed + delay > limit:
            return None
        return delay


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date; None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)

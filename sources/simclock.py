"""Notions of "now": the real clock, a hand-moved one, or an accelerated one.

Every clock answers epoch milliseconds (UTC). Simulators run on one; clients that keep time
(ticket expiry, lockouts) take one too, so a test can share a :class:`ManualClock` between both
and jump through a simulated day at once; the demo uses :class:`AcceleratedClock`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int: ...


@runtime_checkable
class AdjustableClock(Clock, Protocol):
    def advance(self, ms: int) -> None: ...


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SystemClock:
    def now_ms(self) -> int:
        return wall_clock_ms()

    def __repr__(self) -> str:
        return "SystemClock()"


class FunctionClock:
    """A :class:`Clock` over a function answering epoch ms, the form the poller is given."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms

    def now_ms(self) -> int:
        return self._now_ms()


class ManualClock:
    """Stands still until told to move."""

    def __init__(self, start_ms: int) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock does not go backwards")
        self._now_ms += ms

    def set(self, now_ms: int) -> None:
        if now_ms < self._now_ms:
            raise ValueError("a clock does not go backwards")
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return f"ManualClock(now_ms={self._now_ms})"


class AcceleratedClock:
    """Runs ``speed`` times faster than real time, starting at ``start_ms`` (default: now)."""

    def __init__(
        self,
        speed: float,
        start_ms: int | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._speed = speed
        self._start_ms = wall_clock_ms() if start_ms is None else start_ms
        self._monotonic = monotonic
        self._started_at = monotonic()
        self._skipped_ms = 0

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> int:
        elapsed_s = self._monotonic() - self._started_at
        return self._start_ms + self._skipped_ms + int(elapsed_s * 1000 * self._speed)

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock does not go backwards")
        self._skipped_ms += ms

    def __repr__(self) -> str:
        return f"AcceleratedClock(speed={self._speed}, now_ms={self.now_ms()})"

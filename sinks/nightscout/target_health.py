"""Retry warnings for one target, rate-limited: one line per change of state, with counts.

A target that fails for a moment (one 503, one reset connection) and answers on the next
attempt is not worth a warning. One that keeps failing for ``announce_after`` seconds gets one
line ("unreachable ..., retrying; 37 writes waiting"), a reminder every ``remind_every``
seconds while it lasts, and one line when it answers again ("reachable again after 42 s,
1,350 retries"). Each failed attempt is still logged at DEBUG.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger("nightstream.sinks.nightscout.client")


class TargetHealth:
    def __init__(
        self,
        target: str,
        *,
        announce_after: float = 5.0,
        remind_every: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._target = target
        self._announce_after = announce_after
        self._remind_every = remind_every
        self._clock = clock
        self._failing_since: float | None = None
        self._announced_at: float | None = None
        self.failures = 0
        """Failed attempts since the last answer."""
        self.waiting = 0
        """Writes in progress (queued for a slot, on the wire or pausing between attempts)."""

    @property
    def announced(self) -> bool:
        return self._announced_at is not None

    def failed(self, state: str) -> None:
        """An attempt failed retriably; ``state`` says how, e.g. ``unreachable (ConnectError)``."""
        now = self._clock()
        if self._failing_since is None:
            self._failing_since = now
        self.failures += 1
        if self._announced_at is None:
            if now - self._failing_since >= self._announce_after:
                self._announced_at = now
                logger.warning(
                    "target %s: Nightscout %s, retrying; %s waiting",
                    self._target,
                    state,
                    _writes(self.waiting),
                )
        elif now - self._announced_at >= self._remind_every:
            self._announced_at = now
            logger.warning(
                "target %s: Nightscout still %s after %s, %s retries; %s waiting",
                self._target,
                state,
                _seconds(now - self._failing_since),
                f"{self.failures:,}",
                _writes(self.waiting),
            )

    def answered(self) -> None:
        if self._failing_since is None:
            return
        if self._announced_at is not None:
            logger.warning(
                "target %s: Nightscout reachable again after %s, %s retries",
                self._target,
                _seconds(self._clock() - self._failing_since),
                f"{self.failures:,}",
            )
        self._failing_since = self._announced_at = None
        self.failures = 0


def _writes(count: int) -> str:
    return f"{count:,} write" + ("" if count == 1 else "s")


def _seconds(value: float) -> str:
    return f"{value:,.0f} s"

"""The retry loop of one request: attempts, backoff with jitter, giving up, and stopping.

An attempt that may succeed later raises ``RetryLater``; anything else it raises or returns
ends the loop. Pauses between attempts observe the stop gate, so a stopping process never
waits out a backoff, and a policy with ``max_elapsed`` turns a long failure into a
``RetriableError`` for the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nightstream.schemas.backoff import Backoff, RetryPolicy
from nightstream.schemas.errors import RetriableError
from nightstream.sinks.nightscout.stopping import DeadlinePassed, StopGate
from nightstream.sinks.nightscout.target_health import TargetHealth

logger = logging.getLogger("nightstream.sinks.nightscout.client")

T = TypeVar("T")


class RetryLater(Exception):
    """One attempt failed in a way that another attempt may not."""

    def __init__(self, reason: str, state: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        """What happened to this attempt (for DEBUG lines and the final error)."""
        self.state = state
        """The target's state in a few words, e.g. ``unreachable (ConnectError)``."""
        self.retry_after = retry_after


class RetryLoop:
    """Retries one target's requests under its policy; shared by every request to it."""

    def __init__(
        self,
        target: str,
        policy: RetryPolicy,
        gate: StopGate,
        health: TargetHealth,
        redact: Callable[[str], str],
    ) -> None:
        self._target = target
        self._policy = policy
        self._gate = gate
        self._health = health
        self._redact = redact

    async def run(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        """Call ``attempt`` until it does not raise ``RetryLater``."""
        backoff = Backoff(self._policy)
        self._health.waiting += 1
        try:
            while True:
                try:
                    result = await attempt()
                except DeadlinePassed as exc:
                    await self._pause(backoff, what, RetryLater(str(exc), "not answering"))
                    continue
                except RetryLater as exc:
                    await self._pause(backoff, what, exc)
                    continue
                self._health.answered()
                return result
        finally:
            self._health.waiting -= 1

    async def _pause(self, backoff: Backoff, what: str, exc: RetryLater) -> None:
        reason = self._redact(exc.reason)
        self._health.failed(exc.state)
        delay = backoff.next_delay(exc.retry_after)
        if delay is None:
            raise RetriableError(
                f"target {self._target}: {what} still failing after {backoff.attempts} "
                f"attempts in {backoff.elapsed:.0f} s: {reason}",
                retry_after=exc.retry_after,
            )
        logger.debug(
            "target %s: %s failed (%s); attempt %d, retrying in %.2f s",
            self._target,
            what,
            reason,
            backoff.attempts,
            delay,
        )
        await self._gate.pause(delay)

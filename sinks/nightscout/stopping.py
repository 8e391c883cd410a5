"""Where a target's requests get their deadline, and how they notice the process stopping.

Every attempt runs inside ``StopGate.attempt(seconds)``: an ``asyncio.timeout`` that ends it
after its deadline. Once the stop event is set, nothing is retried and no backoff pause goes
on, and every attempt (on the wire or about to start) must be answered within ``drain``
seconds: a healthy target still answers the batch in hand, so it can be committed; an
unreachable or hanging one is given up at once or at the end of the drain. Whoever waits for
such a write gets ``WriteStopped``. An ordinary ``task.cancel()`` still works as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from nightstream.schemas.errors import NightstreamError


class WriteStopped(NightstreamError):
    """A write was abandoned, unanswered, because the process is stopping."""

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(f"target {target}: write abandoned, the process is stopping")


class DeadlinePassed(Exception):
    """One attempt got no answer before its deadline (the caller may try again)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"no answer within {seconds:g} s")


class StopGate:
    """Deadlines for one target's attempts, and the stop signal its writes observe."""

    def __init__(self, target: str, stop: asyncio.Event | None, *, drain: float) -> None:
        self._target = target
        self._stop = stop
        self._drain = drain
        self._stopping = False
        self._stopped = asyncio.Event()
        self._drain_ends = 0.0
        self._running: set[asyncio.Timeout] = set()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def request_stop(self) -> None:
        """No more retries; every attempt ends within ``drain`` seconds from now."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped.set()
        self._drain_ends = asyncio.get_running_loop().time() + self._drain
        for scope in self._running:
            when = scope.when()
            if not scope.expired() and (when is None or when > self._drain_ends):
                scope.reschedule(self._drain_ends)

    @contextlib.asynccontextmanager
    async def attempt(self, seconds: float) -> AsyncIterator[None]:
        """Run one attempt within ``seconds``; raises ``DeadlinePassed`` or ``WriteStopped``."""
        self._follow_stop()
        if self._stopping:
            seconds = self._drain_ends - asyncio.get_running_loop().time()
            if seconds <= 0:
                raise WriteStopped(self._target)
        try:
            async with asyncio.timeout(seconds) as scope:
                self._running.add(scope)
                try:
                    yield
                finally:
                    self._running.discard(scope)
        except TimeoutError:
            if self._stopping:
                raise WriteStopped(self._target) from None
            raise DeadlinePassed(seconds) from None

    async def pause(self, seconds: float) -> None:
        """Sleep between attempts; ends at once with ``WriteStopped`` when the process stops."""
        self._check()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopped.wait()
        self._check()

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    def _check(self) -> None:
        self._follow_stop()
        if self._stopping:
            raise WriteStopped(self._target)

    def _follow_stop(self) -> None:
        if self._stop is not None and self._watcher is None:
            # Started here, not in __init__: a client may be built before the loop runs.
            self._watcher = asyncio.get_running_loop().create_task(self._follow(self._stop))
            if self._stop.is_set():
                self.request_stop()

    async def _follow(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.request_stop()

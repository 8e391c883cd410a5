"""Where a target's requests get their deadline, and how they notice the process stopping.

Every attempt runs inside ``StopGate.attempt(seconds)``: an ``asyncio.timeout`` that ends it
after its deadline. When the stop event is set, no new attempt starts and no backoff pause goes
on; attempts already on the wire keep at most ``drain`` seconds to be answered (a healthy
target's batch can still be acknowledged and committed), then they are abandoned. Whoever waits
for the write then gets ``WriteStopped``. An ordinary ``task.cancel()`` still works as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from schemas.errors import NightstreamError


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
        self._running: set[asyncio.Timeout] = set()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def request_stop(self) -> None:
        """No new attempts; those on the wire end within ``drain`` seconds."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped.set()
        latest = asyncio.get_running_loop().time() + self._drain
        for scope in self._running:
            when = scope.when()
            if not scope.expired() and (when is None or when > latest):
                scope.reschedule(latest)

    @contextlib.asynccontextmanager
    async def attempt(self, seconds: float) -> AsyncIterator[None]:
        """Run one attempt within ``seconds``; raises ``DeadlinePassed`` or ``WriteStopped``."""
        self._check()
        try:
            async with asyncio.timeout(seconds) as scope:
                self._running.add(scope)
                try:
                    yield
                finally:
                    self._running.discard(scope)
        except TimeoutError:
            self._check()
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
        if self._stop is not None and self._watcher is None:
            # Started here, not in __init__: a client may be built before the loop runs.
            self._watcher = asyncio.get_running_loop().create_task(self._follow(self._stop))
            if self._stop.is_set():
                self.request_stop()
        if self._stopping:
            raise WriteStopped(self._target)

    async def _follow(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.request_stop()

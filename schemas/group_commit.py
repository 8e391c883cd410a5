"""Writes that many tasks ask for at once, done together: one write at a time, each over
everything asked for while the one before it ran.

The sink's lanes (one per site) each record a few answers when their site acknowledged a
chunk. Sent one lane at a time, every record became a Kafka batch of its own, and aiokafka
queues one batch per partition: at 10,000 sites the lanes waited in line for each other's round
trips (and gave up with ``KafkaTimeoutError`` on a loaded machine). Together, a round trip
carries every answer that came meanwhile, and the writes of one store never interleave.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    def __init__(self, write: Callable[[list[Item]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[Item, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> None:
        """Return once a write that held ``item`` succeeded; raise what made it fail."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            # A context of its own: the write is every caller's, not run under the fencing
            # lease of whichever came first (callers check their own before submitting).
            self._writer = asyncio.create_task(self._drain(), context=contextvars.Context())
        # A caller that is cancelled leaves its item in the write, which goes on for the others.
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._waiting:
            taken, self._waiting = self._waiting, []
            try:
                await self._write([item for item, _ in taken])
            except BaseException as exc:
                for _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                        done.exception()  # retrieved: a cancelled caller's is not reported
                if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise
                continue
            for _, done in taken:
                if not done.done():
                    done.set_result(None)

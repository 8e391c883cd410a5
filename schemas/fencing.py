"""Fencing: an instance that lost its partitions writes nothing afterwards.

Kafka takes partitions away from a consumer in two ways that its own code may not see in time:

- a rebalance (another instance joined, or this one stayed too long in one batch and aiokafka
  left the group): aiokafka calls ``on_partitions_revoked`` in the background while the
  application still holds records it fetched before;
- the process stood still (SIGSTOP, a VM paused, a blocked event loop) longer than the session
  timeout: the broker gave its partitions to another instance, and when the process resumes its
  pending work (a retry timer, the next write of a batch) runs before any callback.

So every batch is processed under a ``Lease`` taken when it was fetched: it holds while every
partition of the batch is still assigned in the same assignment (an epoch per assignment, so a
partition taken away and given back does not revive an old batch) and while the event loop has
not stood still since. Code that writes anywhere (Nightscout, a Kafka topic, an offset commit)
calls ``check_lease()`` right before it: a fenced batch raises ``Fenced`` and is dropped; its
records are read again by whoever owns the partitions now. The lease travels in a context
variable, so the tasks a batch spawns (concurrent PUTs) check the same lease.

What this cannot stop: a request already on the wire when the process froze, which the server
may apply late. Nightscout applies it then, before anything newer from the new owner only if it
arrived first; deterministic identifiers make it the same document, and the newer version the
new owner writes afterwards wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

logger = logging.getLogger(__name__)


class Fenced(Exception):
    """This instance may no longer own what it was about to write for."""


class LoopWatch:
    """Notices when this process's event loop stood still for ``frozen_after`` seconds or more.

    ``frozen_after`` must stay below the consumer group's session timeout: a stop shorter than
    that cannot have cost the group membership.
    """

    def __init__(self, frozen_after: float, quarantine: float, tick: float = 0.25) -> None:
        self.frozen_after = frozen_after
        self.quarantine = quarantine
        """After a stop, how long no new work starts: long enough for the group to tell this
        instance (by a failed heartbeat and a revocation) that its partitions went elsewhere."""
        self._tick = tick
        self._last_tick = time.monotonic()
        self.last_freeze = -float("inf")
        """When the loop was last seen to have stood still (monotonic seconds)."""
        self.freezes = 0

    def frozen_now(self) -> bool:
        """True when the loop has not ticked for too long: it is just waking up from a stop."""
        return time.monotonic() - self._last_tick >= self.frozen_after

    def quarantined(self) -> bool:
        """True just after a stop, until the group had time to take the partitions away."""
        return self.frozen_now() or time.monotonic() < self.last_freeze + self.quarantine

    def quarantine_left(self) -> float:
        """Seconds to wait before new work may start (0: it may start now). Waiters sleep
        this long rather than polling: thousands of them polling would keep the loop busy."""
        if self.frozen_now():
            return self._tick
        return max(0.0, self.last_freeze + self.quarantine - time.monotonic())

    async def run(self) -> None:
        while True:
            now = time.monotonic()
            if now - self._last_tick >= self.frozen_after:
                self.last_freeze = now
                self.freezes += 1
                logger.warning(
                    "the event loop stood still for %.1f s: work fetched before is dropped and "
                    "read again",
                    now - self._last_tick,
                )
            self._last_tick = now
            await asyncio.sleep(self._tick)


class Lease:
    def __init__(
        self, ownership: PartitionOwnership, epochs: dict[TopicPartition, int], watch: LoopWatch
    ) -> None:
        self._ownership = ownership
        self._epochs = epochs
        self._watch = watch
        self._taken_at = time.monotonic()

    def valid(self) -> bool:
        if self._watch.frozen_now() or self._watch.last_freeze >= self._taken_at:
            return False
        return all(self._ownership.epoch(tp) == epoch for tp, epoch in self._epochs.items())

    def check(self) -> None:
        if not self.valid():
            raise Fenced("partitions were reassigned or the process stood still")


_CURRENT: ContextVar[Lease | None] = ContextVar("nightstream_lease", default=None)


def check_lease() -> None:
    """Raise ``Fenced`` when the lease of the work running in this context no longer holds."""
    lease = _CURRENT.get()
    if lease is not None:
        lease.check()


async def check_lease_on_the_wire(event: str, _info: dict[str, Any]) -> None:
    """httpcore's ``trace`` extension: check the lease as a request's first bytes are sent.

    A request can wait for a pooled connection after every check above it; this is the last
    moment before the server may see it.
    """
    if event.endswith("send_request_headers.started"):
        check_lease()


def start_leased(lease: Lease, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run ``work`` in a task whose context holds ``lease`` (its sub-tasks inherit it)."""
    context = contextvars.copy_context()
    context.run(_CURRENT.set, lease)
    return asyncio.create_task(work, context=context)


async def process_leased(
    ownership: PartitionOwnership,
    consumer: AIOKafkaConsumer,
    batch: Mapping[TopicPartition, Sequence[ConsumerRecord[Any, Any]]],
    work: Coroutine[Any, Any, None],
) -> str | None:
    """Run ``work`` (the processing of ``batch``) under a lease taken now.

    Returns None when it completed, else why it was dropped: then nothing more of it was written,
    and the partitions still owned are rewound to the batch's first records, to be read again.
    """
    if ownership.watch.quarantined():
        # Fetched after a stop, possibly from partitions another instance owns by now: the
        # assignment this instance believes in may be stale until the group answers again.
        work.close()
        why: str | None = "the process stood still moments ago: waiting for the group to answer"
        await asyncio.sleep(0.2)
    else:
        why = await _run_leased(ownership, batch, work)
    if why is not None:
        for tp, records in batch.items():
            if records and ownership.epoch(tp) is not None:
                with contextlib.suppress(IllegalStateError):
                    consumer.seek(tp, records[0].offset)
    return why


async def _run_leased(
    ownership: PartitionOwnership,
    batch: Mapping[TopicPartition, Sequence[ConsumerRecord[Any, Any]]],
    work: Coroutine[Any, Any, None],
) -> str | None:
    task = start_leased(ownership.lease(batch), work)
    ownership.track(task)
    try:
        await task
        return None
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        why = "its partitions were revoked"
    except Fenced as exc:
        why = str(exc)
    except (CommitFailedError, IllegalStateError) as exc:
        return f"the group rebalanced ({type(exc).__name__})"
    return why


class PartitionOwnership(ConsumerRebalanceListener):  # type: ignore[misc]
    """Which partitions this consumer owns, in which assignment; fences work on revocation.

    ``on_revoke`` runs before the partitions go (the group waits for it, up to its rebalance
    timeout): in-flight work is fenced, given ``drain_seconds`` to end (its next write raises
    ``Fenced``), then cancelled, so nothing is written for the partitions afterwards.
    """

    def __init__(
        self,
        watch: LoopWatch,
        *,
        on_revoke: Callable[[set[TopicPartition]], Awaitable[None]] | None = None,
        on_assign: Callable[[set[TopicPartition]], Awaitable[None]] | None = None,
        drain_seconds: float = 5.0,
    ) -> None:
        self.watch = watch
        self._drain_seconds = drain_seconds
        self._on_revoke = on_revoke
        self._on_assign = on_assign
        self._epochs: dict[TopicPartition, int] = {}
        self._next_epoch = 0
        self._in_flight: set[asyncio.Task[None]] = set()

    def epoch(self, tp: TopicPartition) -> int | None:
        return self._epochs.get(tp)

    def epochs(self) -> dict[TopicPartition, int]:
        """The partitions owned now, each with the assignment it came in."""
        return dict(self._epochs)

    def lease(self, partitions: Iterable[TopicPartition]) -> Lease:
        return Lease(self, {tp: self._epochs.get(tp, -1) for tp in partitions}, self.watch)

    def track(self, task: asyncio.Task[None]) -> None:
        """Cancel ``task`` if the partitions are revoked while it runs."""
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Forgetting the epochs fences every write not yet sent. Requests already on the wire are
        # left to finish (up to ``drain_seconds``): cancelling one does not stop the server from
        # applying it, and a retry sent meanwhile by the next owner could then land first.
        for tp in revoked:
            self._epochs.pop(tp, None)
        pending = list(self._in_flight)
        if pending:
            _done, late = await asyncio.wait(pending, timeout=self._drain_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        if self._on_revoke is not None:
            await self._on_revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._next_epoch += 1
        for tp in assigned:
            self._epochs[tp] = self._next_epoch
        if self._on_assign is not None:
            await self._on_assign(set(assigned))

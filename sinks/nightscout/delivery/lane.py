"""One site's lane: its deliveries in order, written in chunks, on its own.

Every site a sink serves has a lane: the live readers and the catch-ups put deliveries in,
and the lane writes them when it can, at the site's own pace. A site that stops answering
(the target's retry policy gives up) is *parked*: what it had waiting goes back to Kafka
(the sink records where the site must resume, then forgets those deliveries), and after a
backoff a catch-up brings the site forward from there. Other sites never wait for it.
A site that refuses the token stops alone, with its one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from nightstream.schemas.backoff import Backoff, RetryPolicy
from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.errors import RetriableError, TargetFatalError
from nightstream.schemas.fencing import Fenced, PartitionOwnership, check_lease, start_leased
from nightstream.sinks.nightscout.delivery.deliveries import Delivery
from nightstream.sinks.nightscout.delivery.site_acks import DELETED, REJECTED, SiteAcks
from nightstream.sinks.nightscout.delivery.site_writer import SiteWriter, first_failure
from nightstream.sinks.nightscout.outcomes import WriteOutcome, WriteStatus
from nightstream.sinks.nightscout.site_stats import SinkStats
from nightstream.sinks.nightscout.stopping import WriteStopped

logger = logging.getLogger(__name__)

QUARANTINE_SPREAD_SECONDS = 2.0
WRITE_CHUNK = 64
"""Deliveries written together: what a site acknowledged is recorded chunk by chunk."""

Reject = Callable[[str, NsRecord, str], Awaitable[None]]
"""``reject(site, record, reason)``: send a document the site refused to the DLQ."""
Release = Callable[["SiteLane", list[Delivery]], Awaitable[None]]
"""Called with what a parked or stopped lane gave back, before it is forgotten."""


class SiteLane:
    def __init__(
        self,
        name: str,
        write: SiteWriter,
        acks: SiteAcks,
        ownership: PartitionOwnership,
        reject: Reject,
        release: Release,
        park_backoff: RetryPolicy,
    ) -> None:
        self.name = name
        self.stats = SinkStats()
        self.queue: deque[Delivery] = deque()
        self.stopped: str | None = None
        """Why the site stopped for good (until the sink starts again), or None."""
        self.parked_until = 0.0
        """Monotonic time before which no catch-up feeds the lane."""
        self.parks = 0
        self.unanswered_at_stop = 0
        """Deliveries being written when the sink stopped and left unanswered: the site may
        hold them; they are read again (not committed)."""
        self._write_records = write
        self._acks = acks
        self._ownership = ownership
        self._reject = reject
        self._release = release
        self._park_policy = park_backoff
        self._backoff = Backoff(park_backoff)
        self._in_flight: list[Delivery] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._checked = asyncio.Event()
        self._checked.set()

    def hold_until_checked(self) -> None:
        """Write nothing until ``checked`` gives the start check's verdict (deliveries queue)."""
        self._checked.clear()

    async def checked(self, refusal: str | None) -> None:
        """The start check's verdict: ``refusal`` stops the site before its first write."""
        if refusal is not None and self.stopped is None:
            await self._stop(refusal)
        self._checked.set()

    def offer(self, delivery: Delivery) -> None:
        self.queue.append(delivery)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"site-{self.name}")

    def ready(self, now: float) -> bool:
        return self.stopped is None and now >= self.parked_until

    @property
    def pending(self) -> int:
        return len(self.queue) + len(self._in_flight)

    async def shed(self, why: str) -> None:
        """Give back what waits (the site is too slow for the live readers): a catch-up feeds
        it from there at its own pace; the chunk being written finishes normally."""
        waiting = list(self.queue)
        self.queue.clear()
        logger.info("target %s: %s; it catches up on its own", self.name, why)
        await self._release(self, waiting)

    async def aclose(self, drain_seconds: float) -> None:
        """Finish the chunk being written (its answers get recorded), start no other; cancel
        what is still running after ``drain_seconds``."""
        self._closing = True
        self._checked.set()  # a lane still waiting for its check ends at once
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout=drain_seconds)
        if not self._task.done():
            self.unanswered_at_stop += len(self._in_flight)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        await self._checked.wait()
        while self.queue and self.stopped is None and not self._closing:
            chunk = [self.queue.popleft() for _ in range(min(WRITE_CHUNK, len(self.queue)))]
            self._in_flight = chunk
            try:
                await self._deliver(chunk)
            except WriteStopped:
                # The sink is stopping: unanswered deliveries are read again later.
                self.unanswered_at_stop += len(self._in_flight)
                return
            except RetriableError as exc:
                await self._park(str(exc))
            except TargetFatalError as exc:
                await self._stop(exc.user_message)
            except Exception as exc:  # a defect must not take the other sites down
                logger.exception("target %s: unexpected error while writing", self.name)
                await self._park(f"unexpected error ({type(exc).__name__})")
            finally:
                self._in_flight = []

    async def _park(self, why: str) -> None:
        delay = self._backoff.next_delay() or self._park_policy.cap
        self.parked_until = time.monotonic() + delay
        self.parks += 1
        waiting = self._in_flight + list(self.queue)
        self.queue.clear()
        logger.warning(
            "target %s: %s; %d document(s) wait; trying again in %.0f s (other sites go on)",
            self.name,
            why,
            len(waiting),
            delay,
        )
        await self._release(self, waiting)

    async def _stop(self, why: str) -> None:
        self.stopped = why
        waiting = self._in_flight + list(self.queue)
        self.queue.clear()
        logger.error("target %s stopped: %s", self.name, why)
        await self._release(self, waiting)

    async def _deliver(self, chunk: list[Delivery]) -> None:
        """Write ``chunk`` under a lease on its partitions; deliveries of partitions this
        instance lost are dropped (their new owner reads them again)."""
        while True:
            fresh = [d for d in chunk if self._ownership.epoch(d.tp) == d.epoch]
            if len(fresh) < len(chunk):
                self.stats.dropped_batches += 1
                logger.warning(
                    "target %s: %d document(s) dropped unacknowledged: their partitions went to "
                    "another instance, which sends them",
                    self.name,
                    len(chunk) - len(fresh),
                )
            chunk = fresh
            if not chunk:
                return
            if self._ownership.watch.quarantined():
                # Stood still: wait for the group to say who owns what. Lanes wake spread
                # over a moment, not all in the loop turn the quarantine ends in.
                left = self._ownership.watch.quarantine_left()
                await asyncio.sleep(left + random.uniform(0.05, QUARANTINE_SPREAD_SECONDS))
                continue
            task = start_leased(
                self._ownership.lease({d.tp for d in chunk}), self._write_chunk(chunk)
            )
            self._ownership.track(task)
            try:
                await task
                return
            except Fenced:
                continue
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                continue  # revoked while writing: the next pass drops what is no longer ours

    async def _write_chunk(self, chunk: Sequence[Delivery]) -> None:
        latest: dict[str, Delivery] = {}
        for delivery in chunk:
            earlier = latest.get(delivery.record.address)
            if earlier is not None:
                self.stats.superseded += 1
                if _older(delivery, earlier):
                    continue
            latest[delivery.record.address] = delivery
        answers = self._acks.answers(self.name, [d.record for d in latest.values()])
        pending: list[Delivery] = []
        moved: list[tuple[NsRecord, int, int, str]] = []
        for address, delivery in latest.items():
            answer = answers.get(address)
            where = (delivery.tp.partition, delivery.offset)
            if answer is not None and answer.supersedes(delivery.record, *where):
                self.stats.superseded += 1
            elif answer is not None and answer.settles(delivery.record):
                if answer.marker.startswith(DELETED):
                    self.stats.skipped_deleted += 1
                else:
                    self.stats.skipped_unchanged += 1
                if answer.read_before(delivery.record, *where):
                    # The same content again, later (a vendor re-sending what an edit had
                    # changed): the answer moves here, or a re-read of the edit in between
                    # would look newer than it and be written over it.
                    moved.append((delivery.record, *where, answer.marker))
            else:
                pending.append(delivery)
        if moved:
            check_lease()
            await self._acks.record(self.name, moved)
        failed, failure = await self._write(pending) if pending else ([], None)
        for delivery in chunk:
            if delivery not in failed:
                delivery.settle()
        if failure is not None:
            # Only the unanswered stay in flight: the answered are recorded and settled.
            self._in_flight = failed
            raise failure
        if self._backoff.attempts:
            self._backoff = Backoff(self._park_policy)

    async def _write(
        self, deliveries: list[Delivery]
    ) -> tuple[list[Delivery], BaseException | None]:
        """Write, record every answer that came; returns what got none, and why."""
        by_collection: dict[Collection, list[Delivery]] = {}
        for delivery in deliveries:
            by_collection.setdefault(delivery.record.collection, []).append(delivery)
        results = await asyncio.gather(
            *(self._write_records(c, [d.record for d in ds]) for c, ds in by_collection.items())
        )
        answered: list[tuple[NsRecord, int, int, str]] = []
        failed: list[Delivery] = []
        for (collection, batch), outcomes in zip(by_collection.items(), results, strict=True):
            for delivery, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    failed.append(delivery)
                    continue
                marker = await self._settle(collection, delivery.record, outcome)
                answered.append((delivery.record, delivery.tp.partition, delivery.offset, marker))
        if answered:
            check_lease()
            await self._acks.record(self.name, answered)
        return failed, first_failure([o for outcomes in results for o in outcomes])

    async def _settle(self, collection: Collection, record: NsRecord, outcome: WriteOutcome) -> str:
        if outcome.written:
            self.stats.written += 1
            self.stats.by_collection[collection.value] = (
                self.stats.by_collection.get(collection.value, 0) + 1
            )
            return record.content_hash
        if outcome.status is WriteStatus.DELETED_BY_USER:
            self.stats.deleted_by_user += 1
            return DELETED + record.content_hash
        self.stats.rejected += 1
        reason = f"Nightscout rejected {collection.value}/{record.identifier}: {outcome.message}"
        await self._reject(self.name, record, reason)
        return REJECTED + record.content_hash


def _older(delivery: Delivery, than: Delivery) -> bool:
    """Versions decide when both are known; otherwise the later read wins."""
    a, b = delivery.record.version, than.record.version
    if a is not None and b is not None and a != b:
        return a < b
    return (delivery.tp, delivery.offset) < (than.tp, than.offset)

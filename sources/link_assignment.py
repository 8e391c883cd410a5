"""Links spread over poller instances by Kafka: one consumer group over the compacted links topic.

Each instance owns the links of the partitions the group assigned to it, and only those:

- On assignment it reads each assigned partition up to the end offset it had at that moment
  (committed offsets mean nothing here: the topic is a table, not a queue), then starts the
  partition's links on its ``LinkHost``. After that, records apply one by one: a new link starts,
  a changed one restarts, a paused or removed one stops; other links are not touched.
- On revoke it stops (awaits) every link of the revoked partitions before the callback returns.
  aiokafka awaits that callback before it sends JoinGroup, so no other instance can be assigned
  the partition, let alone poll its links, while this one still does.
- aiokafka's rebalances are eager (every member loses every partition each time), so the tables
  of revoked partitions are kept: a partition that comes back in the next assignment is read
  only from where this instance stopped, not from its beginning.
- ``getmany()`` is called all the time, also with nothing to read, so ``max_poll_interval_ms``
  never expires; static membership (``instance_id``) lets an instance restart within the
  session timeout without any rebalance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.errors import IllegalStateError

from schemas.errors import NightstreamError, RecordDecodeError
from schemas.records import LinkRecord
from schemas.serde import Serde

logger = logging.getLogger(__name__)


class LinkHost(Protocol):
    """Where the owned links run (the poller). Both calls are awaited before the next one."""

    async def add_link(self, link: LinkRecord) -> None:
        """Start polling ``link`` (not running on this host now; never paused)."""

    async def remove_link(self, link_id: str) -> None:
        """Stop polling ``link_id``; return only once it no longer polls."""


@dataclass(frozen=True)
class AssignmentOptions:
    group_id: str
    instance_id: str | None = None
    """Static membership (KIP-345): a restart within ``session_timeout_ms`` keeps the links."""
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    rebalance_timeout_ms: int = 60_000
    """How long stopping this instance's links on a revoke may take."""
    fetch_timeout_ms: int = 1_000


@dataclass
class _Partition:
    links: dict[str, LinkRecord] = field(default_factory=dict)
    position: int = 0
    """Offset after the last record applied."""
    end: int | None = None
    """End offset to read up to before the links start (_END_UNKNOWN until asked); None once
    they run."""


_END_UNKNOWN = -1


class LinkAssignment:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        serde: Serde,
        host: LinkHost,
        options: AssignmentOptions,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._serde = serde
        self._host = host
        self._options = options
        self._tables: dict[int, _Partition] = {}
        self._assigned: frozenset[int] = frozenset()
        self._running: dict[str, int] = {}
        self._epoch = 0
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def owned(self) -> frozenset[str]:
        """The links running on the host now."""
        return frozenset(self._running)

    @property
    def assigned_partitions(self) -> frozenset[int]:
        return self._assigned

    async def run(self, stop: asyncio.Event) -> None:
        options = self._options
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=options.group_id,
            group_instance_id=options.instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=options.heartbeat_interval_ms,
            rebalance_timeout_ms=options.rebalance_timeout_ms,
            partition_assignment_strategy=(_own_sticky_assignor(),),
        )
        self._consumer = consumer
        consumer.subscribe([self.topic], listener=_Listener(self))
        await consumer.start()
        try:
            while not stop.is_set():
                await self._step(consumer)
        finally:
            async with self._lock:
                await self._stop_links(list(self._running))
            await consumer.stop()

    async def _step(self, consumer: AIOKafkaConsumer) -> None:
        epoch = self._epoch
        batch = await consumer.getmany(timeout_ms=self._options.fetch_timeout_ms)
        async with self._lock:
            if epoch != self._epoch:
                # A rebalance ran while fetching: read these records again from what was applied.
                self._rewind(consumer, batch)
                return
            for tp, records in batch.items():
                for record in records:
                    await self._apply(tp.partition, record)
            await self._start_caught_up(consumer)

    def _rewind(
        self,
        consumer: AIOKafkaConsumer,
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        for tp in batch:
            table = self._tables.get(tp.partition)
            if tp.partition in self._assigned and table is not None:
                consumer.seek(tp, table.position)

    async def _apply(self, partition: int, record: ConsumerRecord[bytes, bytes]) -> None:
        table = self._tables[partition]
        table.position = record.offset + 1
        if record.key is None:
            logger.warning("links topic: keyless record at %d/%d", partition, record.offset)
            return
        link_id = record.key.decode(errors="replace")
        new = self._decode(link_id, partition, record)
        old = table.links.pop(link_id, None)
        if new is not None:
            table.links[link_id] = new
        if table.end is not None:
            return  # still reading up to the end: links start after
        if old is not None and new is not None and old.same_settings(new):
            return
        await self._stop_links([link_id])
        if new is not None and not new.paused:
            await self._start_link(partition, new)

    def _decode(
        self, link_id: str, partition: int, record: ConsumerRecord[bytes, bytes]
    ) -> LinkRecord | None:
        if record.value is None:
            return None
        try:
            link = LinkRecord.from_avro(
                self._serde.decode(
                    record.value, topic=self.topic, partition=partition, offset=record.offset
                )
            )
        except RecordDecodeError as exc:
            logger.error("link %s: unreadable version, not polled: %s", link_id, exc)
            return None
        if link.id != link_id:
            logger.error("link %s: record names link %s; not polled", link_id, link.id)
            return None
        return link

    async def _start_caught_up(self, consumer: AIOKafkaConsumer) -> None:
        # Asked here rather than in the assignment callback, whose errors aiokafka only logs.
        unknown = [
            TopicPartition(self.topic, p)
            for p in sorted(self._assigned)
            if self._tables[p].end == _END_UNKNOWN
        ]
        if unknown:
            for tp, end in (await consumer.end_offsets(unknown)).items():
                self._tables[tp.partition].end = end
        for partition in sorted(self._assigned):
            table = self._tables[partition]
            if table.end is None:
                continue
            tp = TopicPartition(self.topic, partition)
            try:
                table.position = max(table.position, await consumer.position(tp))
            except IllegalStateError:
                continue
            if table.position >= table.end:
                table.end = None
                for link in list(table.links.values()):
                    if not link.paused:
                        await self._start_link(partition, link)

    async def _start_link(self, partition: int, link: LinkRecord) -> None:
        try:
            await self._host.add_link(link)
        except NightstreamError as exc:
            logger.error("link %s not started: %s", link.id, exc)
            return
        except Exception as exc:  # a defect for one link must not stop the others
            logger.error("link %s not started: unexpected %s", link.id, type(exc).__name__)
            return
        self._running[link.id] = partition

    async def _stop_links(self, link_ids: Iterable[str]) -> None:
        running = [link_id for link_id in link_ids if link_id in self._running]
        results = await asyncio.gather(
            *(self._host.remove_link(link_id) for link_id in running), return_exceptions=True
        )
        for link_id, result in zip(running, results, strict=True):
            del self._running[link_id]
            if isinstance(result, BaseException):
                logger.error("link %s: stopping it failed: %r", link_id, result)

    async def partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        partitions = {tp.partition for tp in revoked}
        async with self._lock:
            self._epoch += 1
            self._assigned = self._assigned - partitions
            await self._stop_links([i for i, p in self._running.items() if p in partitions])

    async def partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        tps = sorted(assigned)
        async with self._lock:
            self._epoch += 1
            partitions = {tp.partition for tp in tps}
            # Only a partition that comes straight back keeps its table: one held elsewhere for
            # longer may have lost tombstones to compaction meanwhile.
            for partition in set(self._tables) - partitions:
                del self._tables[partition]
            fresh = [tp for tp in tps if tp.partition not in self._tables]
            for tp in tps:
                table = self._tables.setdefault(tp.partition, _Partition())
                table.end = _END_UNKNOWN
                if tp not in fresh:
                    consumer.seek(tp, table.position)
            self._assigned = frozenset(partitions)
            if fresh:
                # Should this fail, auto_offset_reset="earliest" starts there all the same: the
                # group never commits an offset.
                await consumer.seek_to_beginning(*fresh)
        logger.info(
            "links partitions %s assigned (%d read again from the start)",
            sorted(partitions),
            len(fresh),
        )


def _own_sticky_assignor() -> type[StickyPartitionAssignor]:
    """aiokafka's sticky assignor keeps the member's last assignment in class attributes; a
    subclass per consumer keeps two members in one process (tests, benchmarks) apart."""
    return type("LinkStickyAssignor", (StickyPartitionAssignor,), {})


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, assignment: LinkAssignment) -> None:
        self._assignment = assignment

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._assignment.partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._assignment.partitions_assigned(assigned)

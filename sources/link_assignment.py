"""Links spread over poller instances by Kafka: one consumer group over the compacted links topic.

Each instance owns the links of the partitions the group assigned to it, and only those:

- It reads a newly assigned partition up to the end offset it had then (committed offsets mean
  nothing here: the topic is a table, not a queue), then starts the partition's links on its
  ``LinkHost``. After that, records apply one by one: a new link starts, a changed one restarts,
  a paused or removed one stops; other links are not touched.
- aiokafka's rebalances are eager: every member loses every partition and then gets its new
  share. Stopping every link on the revoke would restart all of them on each join or
  departure, so links keep running through a rebalance, and a hand-off keeps any link from
  running on two instances at once:

  - the leader's assignor (sticky: most partitions stay where they are) tells each member, for
    each partition it is given, how many *other* members held it in their previous assignment
    (each member's sticky metadata says what it held), with a token naming this rebalance;
  - a member that lost a partition stops its links (awaits the host), then publishes a release
    (token, partition) on the compacted link-handoffs topic;
  - a member that gained a partition starts its links only once it has read that many releases
    of the partition with this token. A previous holder that is no longer in the group is not
    counted: it is dead (its links died with it) or it left after stopping them.

- A revoke with no assignment after it within the rebalance and session timeouts (this
  instance is out of the group), or after the loop stalled for half of ``max_poll_interval``,
  stops every link at once.
- ``getmany()`` is called all the time, also with nothing to read, so ``max_poll_interval_ms``
  never expires; static membership (``instance_id``) lets an instance restart within the
  session timeout without any rebalance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import IllegalStateError

from nightstream.schemas.errors import NightstreamError, RecordDecodeError
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer, kafka_producer
from nightstream.schemas.records import LinkHandoffRecord, LinkRecord
from nightstream.schemas.serde import Serde

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
    max_poll_interval_ms: int = 300_000
    fetch_timeout_ms: int = 1_000


@dataclass(frozen=True)
class HandoffTopic:
    name: str
    serde: Serde


@dataclass
class _Partition:
    links: dict[str, LinkRecord] = field(default_factory=dict)
    position: int = 0
    """Offset after the last record applied."""
    end: int | None = None
    """End offset to read up to before the links start (_END_UNKNOWN until asked); None once
    they run."""


_END_UNKNOWN = -1


@dataclass(frozen=True)
class _Handoff:
    token: str
    waits: Mapping[int, int]
    """Partition -> how many other members held it before and must release it first."""

    @classmethod
    def parse(cls, data: bytes) -> _Handoff:
        value = json.loads(data)
        return cls(str(value["token"]), {int(p): int(n) for p, n in value["waits"].items()})


class _HandoffAssignor(StickyPartitionAssignor):  # type: ignore[misc]
    """Sticky, plus each member's hand-off: the rebalance's token and, per partition it gets,
    how many other members held it. A protocol name of its own keeps plain sticky members (that
    would not wait) out of the group."""

    name = "nightstream-links-handoff"
    handoff = _Handoff("", {})

    @classmethod
    def assign(cls, cluster: Any, members: Mapping[str, Any]) -> dict[str, Any]:
        given = super().assign(cluster, members)
        held: dict[TopicPartition, set[str]] = defaultdict(set)
        for member_id, metadata in members.items():
            for tp in cls.parse_member_metadata(metadata).partitions:
                held[tp].add(member_id)
        token = uuid.uuid4().hex
        out = {}
        for member_id, assignment in given.items():
            waits = {
                tp.partition: len(held[tp] - {member_id})
                for tp in assignment.partitions()
                if held[tp] - {member_id}
            }
            user_data = json.dumps({"token": token, "waits": waits}).encode()
            out[member_id] = ConsumerProtocolMemberAssignment(
                assignment.version, assignment.assignment, user_data
            )
        return out

    @classmethod
    def on_assignment(cls, assignment: Any) -> None:
        super().on_assignment(assignment)
        cls.handoff = _Handoff.parse(assignment.user_data)


def _own_assignor() -> type[_HandoffAssignor]:
    """The sticky assignor keeps the member's last assignment in class attributes; a subclass
    per consumer keeps two members in one process (tests, benchmarks) apart."""
    return type("LinkHandoffAssignor", (_HandoffAssignor,), {})


class LinkAssignment:
    def __init__(
        self,
        bootstrap_servers: Brokers,
        topic: str,
        serde: Serde,
        host: LinkHost,
        options: AssignmentOptions,
        handoffs: HandoffTopic,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._serde = serde
        self._host = host
        self._options = options
        self._handoffs = handoffs
        self.member = options.instance_id or f"member-{uuid.uuid4().hex[:12]}"
        self._assignor = _own_assignor()
        self._tables: dict[int, _Partition] = {}
        self._assigned: frozenset[int] = frozenset()
        """Partitions whose records are applied now (none during a rebalance)."""
        self._held: frozenset[int] = frozenset()
        """Partitions of the last assignment: their links may run."""
        self._running: dict[str, int] = {}
        self._handoff = _Handoff("", {})
        self._released: dict[tuple[int, str], str] = {}
        """(partition, member) -> token of that member's latest release of that partition."""
        self._epoch = 0
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._last_fetch = time.monotonic()
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def owned(self) -> frozenset[str]:
        """The links running on the host now."""
        return frozenset(self._running)

    async def run(self, stop: asyncio.Event) -> None:
        options = self._options
        producer = kafka_producer(self._bootstrap, acks="all")
        releases = kafka_consumer(self._bootstrap, enable_auto_commit=False)
        consumer = kafka_consumer(
            self._bootstrap,
            group_id=options.group_id,
            group_instance_id=options.instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=options.heartbeat_interval_ms,
            rebalance_timeout_ms=options.rebalance_timeout_ms,
            max_poll_interval_ms=options.max_poll_interval_ms,
            partition_assignment_strategy=(self._assignor,),
        )
        self._consumer, self._producer = consumer, producer
        await producer.start()
        await releases.start()
        reader = asyncio.create_task(self._read_releases(releases, stop))
        try:
            consumer.subscribe([self.topic], listener=_Listener(self))
            await consumer.start()
            try:
                while not stop.is_set():
                    await self._step(consumer)
            finally:
                async with self._lock:
                    await self._stop_links(list(self._running))
                await consumer.stop()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            if self._watchdog is not None:
                self._watchdog.cancel()
            await releases.stop()
            await producer.stop()

    async def _read_releases(self, releases: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        tp = TopicPartition(self._handoffs.name, 0)
        releases.assign([tp])
        await releases.seek_to_beginning(tp)
        while not stop.is_set():
            batch = await releases.getmany(timeout_ms=self._options.fetch_timeout_ms)
            for record in batch.get(tp, []):
                if record.value is None:
                    continue
                try:
                    value = self._handoffs.serde.decode(
                        record.value, topic=tp.topic, partition=0, offset=record.offset
                    )
                except RecordDecodeError as exc:
                    logger.warning("ignoring an unreadable link handoff: %s", exc)
                    continue
                release = LinkHandoffRecord.from_avro(value)
                self._released[(release.partition, release.member)] = release.token

    async def _step(self, consumer: AIOKafkaConsumer) -> None:
        epoch = self._epoch
        batch = await consumer.getmany(timeout_ms=self._options.fetch_timeout_ms)
        self._last_fetch = time.monotonic()
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

    def _released_by_all(self, partition: int) -> bool:
        needed = self._handoff.waits.get(partition, 0)
        token = self._handoff.token
        seen = sum(1 for (p, _), t in self._released.items() if p == partition and t == token)
        return seen >= needed

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
            if table.position >= table.end and self._released_by_all(partition):
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

    async def _stop_partitions(self, partitions: Iterable[int]) -> None:
        """Stop the links of ``partitions``; they start again only after a catch-up."""
        gone = set(partitions)
        await self._stop_links([i for i, p in self._running.items() if p in gone])
        for partition in gone & set(self._tables):
            if self._tables[partition].end is None:
                self._tables[partition].end = _END_UNKNOWN

    async def partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self._lock:
            self._epoch += 1
            self._assigned = frozenset()
            stalled = time.monotonic() - self._last_fetch
            if stalled * 2000 > self._options.max_poll_interval_ms:
                logger.warning("links loop stalled %.0f s: stopping every link", stalled)
                await self._stop_partitions(self._held)
                return
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = asyncio.create_task(self._stop_if_not_assigned(self._epoch))

    async def _stop_if_not_assigned(self, epoch: int) -> None:
        """Out of the group (no assignment came): nobody waits for this instance's releases."""
        options = self._options
        await asyncio.sleep((options.rebalance_timeout_ms + options.session_timeout_ms) / 1000)
        async with self._lock:
            if self._epoch == epoch:
                logger.warning("no links assignment after a revoke: stopping every link")
                await self._stop_partitions(self._held)

    async def partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        tps = sorted(assigned)
        partitions = frozenset(tp.partition for tp in tps)
        async with self._lock:
            self._epoch += 1
            self._handoff = handoff = self._assignor.handoff
            lost = self._held - partitions
            await self._stop_partitions(lost)
            # Kept, yet another member held it meanwhile (this one was out of the group for a
            # while): stop and wait for that member's release like a new owner.
            await self._stop_partitions(p for p in partitions & self._held if handoff.waits.get(p))
            for partition in set(self._tables) - partitions:
                del self._tables[partition]
            fresh = [tp for tp in tps if tp.partition not in self._tables]
            for tp in tps:
                table = self._tables.get(tp.partition)
                if table is None:
                    self._tables[tp.partition] = _Partition(end=_END_UNKNOWN)
                    continue
                if table.end is not None:
                    table.end = _END_UNKNOWN  # not running: read to the end (again)
                consumer.seek(tp, table.position)
            self._held = self._assigned = partitions
            if lost:
                await self._release(lost)
            if fresh:
                # Should this fail, auto_offset_reset="earliest" starts there all the same: the
                # group never commits an offset.
                await consumer.seek_to_beginning(*fresh)
        logger.info(
            "links partitions %s assigned (%d kept running, %d new, %d released)",
            sorted(partitions),
            len(partitions) - len(fresh),
            len(fresh),
            len(lost),
        )

    async def _release(self, partitions: Iterable[int]) -> None:
        producer = self._producer
        assert producer is not None
        now = time.time_ns() // 1_000_000
        sent = []
        for partition in sorted(partitions):
            release = LinkHandoffRecord(self._handoff.token, partition, self.member, now)
            sent.append(
                await producer.send(
                    self._handoffs.name,
                    key=f"{partition}/{self.member}".encode(),
                    value=self._handoffs.serde.encode(release.to_avro()),
                )
            )
        await asyncio.gather(*sent)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, assignment: LinkAssignment) -> None:
        self._assignment = assignment

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._assignment.partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._assignment.partitions_assigned(assigned)

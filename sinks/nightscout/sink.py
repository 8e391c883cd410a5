"""The sink for one Nightscout target: ``ns.*`` topics in, identifier-keyed upserts out.

One consumer group per target. Routing is by stream: the target receives the documents of every
stream that one of its links reads (``links`` below, bound to streams on the bindings topic), and
nothing else. Each batch: decode, keep the documents of routed streams, drop those whose content
the target already acknowledged (``AckedTable``), keep the last version of each identifier,
write them, record the answers in the changelog, and only then commit the offsets. A crash
anywhere repeats at most some idempotent PUTs.

A stream routed to the target after its group went past some of the stream's documents (a link
added later, or bound only after another link's payloads brought the documents) is caught up
by a rewind: between two batches, each assigned partition the stream's history does not cover
yet is read again from its beginning up to where the group was, delivering only the newly
routed streams there; then the coverage is recorded in the changelog.

``run`` goes on until asked to stop or, given ``OffsetBounds``, until it has consumed every
partition up to the end offsets captured before it started (a finite replay).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from nightstream.schemas.bindings import StreamBindings
from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.fencing import LoopWatch, PartitionOwnership, check_lease, process_leased
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer, kafka_producer
from nightstream.schemas.link_directory import LinkDirectory
from nightstream.schemas.offset_bounds import OffsetBounds
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.sinks.nightscout.acked_table import DELETED, REJECTED, AckedTable, ReadAt
from nightstream.sinks.nightscout.client import NightscoutClient
from nightstream.sinks.nightscout.delivery.documents import DocumentTopics
from nightstream.sinks.nightscout.outcomes import WriteOutcome, WriteStatus
from nightstream.sinks.nightscout.stream_routes import StreamRoutes

logger = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 15_000
"""A dead instance's partitions wait this long for another; a stop of half of it fences work."""
WRITE_CHUNK = 64

Writer = Callable[[Collection, Sequence[NsRecord]], Awaitable[list[WriteOutcome]]]
RecordFilter = Callable[[NsRecord], bool]


@dataclass(frozen=True)
class SinkConfig:
    bootstrap_servers: Brokers
    topic_prefix: str
    target: str
    links: frozenset[str] = frozenset()
    """The links that name this target: it receives the streams they are bound to."""
    group_id: str | None = None
    max_batch: int = 500
    replication_factor: int = 1

    @property
    def consumer_group(self) -> str:
        return self.group_id or f"{self.topic_prefix}-sink-{self.target}"

    @property
    def changelog_topic(self) -> str:
        return f"{self.topic_prefix}.sink.{self.target}.acked"


@dataclass
class SinkStats:
    written: int = 0
    skipped_unchanged: int = 0
    skipped_other_streams: int = 0
    """Documents of streams no link of this target reads."""
    reread: int = 0
    """Documents of already covered streams read again while a new stream's history was."""
    deleted_by_user: int = 0
    rejected: int = 0
    batches: int = 0
    by_collection: dict[str, int] = field(default_factory=dict)
    read: int = 0
    """Records consumed from the ``ns.*`` topics."""
    undecodable: int = 0
    """Records that could not be decoded (to the DLQ)."""
    superseded: int = 0
    """Older versions: followed by a newer one in the batch, or older than the acknowledged one."""
    outside_window: int = 0
    """Documents the ``accept`` filter left out (a replay's ``--since``/``--until``)."""
    skipped_deleted: int = 0
    dropped_batches: int = 0
    """Batches dropped unwritten because this instance lost their partitions meanwhile."""
    """Documents the target answered 410 for earlier (deleted by the user): not sent again."""

    @property
    def dead_lettered(self) -> int:
        return self.rejected + self.undecodable

    def __str__(self) -> str:
        """In words, leaving out what did not happen."""
        written = f"{self.written} written"
        if self.by_collection:
            written += (
                " (" + ", ".join(f"{n} {c}" for c, n in sorted(self.by_collection.items())) + ")"
            )
        counts = [
            (self.skipped_unchanged, "unchanged"),
            (self.superseded, "superseded by a newer version"),
            (self.deleted_by_user, "deleted by the user (410)"),
            (self.skipped_deleted, "skipped as deleted"),
            (self.rejected, "rejected (to the DLQ)"),
            (self.undecodable, "undecodable (to the DLQ)"),
            (self.dropped_batches, "batches dropped after a rebalance"),
        ]
        return ", ".join([written] + [f"{n} {what}" for n, what in counts if n])


def _older(read: ReadAt, than: ReadAt) -> bool:
    """Versions decide when both are known; otherwise the later read wins."""
    return read.version is not None and than.version is not None and read.version < than.version


def client_writer(client: NightscoutClient) -> Writer:
    """Write through API v3 (one PUT per document) or v1 (batched POSTs), as configured."""

    async def write(collection: Collection, records: Sequence[NsRecord]) -> list[WriteOutcome]:
        if client.config.api_version == "v1":
            return await client.post_v1_batch(collection, [r.document for r in records])
        puts = (client.put(collection, r.identifier, r.document) for r in records)
        return list(await asyncio.gather(*puts))

    return write


class TargetSink:
    def __init__(
        self,
        config: SinkConfig,
        writer: Writer,
        registry: SchemaRegistryClient | None = None,
        *,
        accept: RecordFilter | None = None,
        directory: LinkDirectory | None = None,
    ) -> None:
        self.config = config
        self._write = writer
        self._accept = accept
        self.positions: dict[TopicPartition, int] = {}
        """Next offset to read per partition, as committed after each batch."""
        self.names = TopicNames(config.topic_prefix)
        self.stats = SinkStats()
        self.acked = AckedTable(
            config.bootstrap_servers, config.changelog_topic, config.replication_factor
        )
        self._producer = kafka_producer(
            config.bootstrap_servers, acks="all", enable_idempotence=True
        )
        self._documents = DocumentTopics(self.names, self._producer, registry)
        self._bindings = StreamBindings(
            config.bootstrap_servers,
            self.names.bindings,
            make_serde("stream_binding", subject=f"{self.names.bindings}-value", registry=registry),
        )
        self._directory = directory
        self._routes = StreamRoutes(config.target, self._links, self._bindings, self.acked)
        self._ownership = PartitionOwnership(
            LoopWatch(frozen_after=SESSION_TIMEOUT_MS / 2000, quarantine=SESSION_TIMEOUT_MS / 1000)
        )
        self._watching: asyncio.Task[None] | None = None
        self._last_drop: str | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        await self.acked.start()
        await self._bindings.start()
        await self._producer.start()
        self._consumer = kafka_consumer(
            self.config.bootstrap_servers,
            group_id=self.config.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.config.max_batch,
            metadata_max_age_ms=10_000,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=SESSION_TIMEOUT_MS // 5,
        )
        self._consumer.subscribe(self._documents.topics, listener=self._ownership)
        self._watching = asyncio.create_task(self._ownership.watch.run())
        await self._consumer.start()
        logger.info(
            "sink %s started: group %s, %d acknowledged documents remembered, %d link(s)",
            self.config.target,
            self.config.consumer_group,
            len(self.acked),
            len(self.config.links),
        )

    def _links(self) -> frozenset[str]:
        """The file's links naming this target, and those added at run time that do."""
        if self._directory is None:
            return self.config.links
        return self.config.links | self._directory.links_of(self.config.target)

    async def stop(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
        if self._consumer is not None:
            await self._consumer.stop()
        await self._producer.stop()
        await self._bindings.stop()
        await self.acked.stop()

    async def run(self, stop: asyncio.Event, until: OffsetBounds | None = None) -> bool:
        """Consume until ``stop`` is set, or until ``until`` is reached (then True)."""
        assert self._consumer is not None, "start() first"
        while not stop.is_set():
            await self._routes.refresh(self._consumer, self._ownership.epochs())
            if until is not None and not self._routes.rewinding and await self._reached(until):
                return True
            batch = await self._consumer.getmany(timeout_ms=500, max_records=self.config.max_batch)
            if batch:
                await self._leased(batch)
        return False

    async def _leased(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """A batch whose partitions went elsewhere meanwhile, or that outlived a stop of this
        process, is dropped unwritten and unacknowledged (``nightstream.schemas.fencing``)."""
        assert self._consumer is not None
        why = await process_leased(
            self._ownership, self._consumer, batch, self.process_batch(batch)
        )
        if why is not None:
            self.stats.dropped_batches += 1
        if why is not None and why != self._last_drop:
            logger.warning(
                "target %s: a batch of %d record(s) was dropped unacknowledged: %s; the "
                "partitions' owner reads it again",
                self.config.target,
                sum(len(messages) for messages in batch.values()),
                why,
            )
        self._last_drop = why

    async def _reached(self, bounds: OffsetBounds) -> bool:
        """Every bounded partition consumed to its end; commits positions that skipped a gap."""
        assert self._consumer is not None
        if bounds.reached(self.positions):
            return True
        assigned = self._consumer.assignment()
        gaps: dict[TopicPartition, int] = {}
        for tp, end in bounds.end.items():
            done = self.positions.get(tp, bounds.start[tp])
            if done >= end or tp not in assigned:
                continue
            # Compaction can leave no record at the end of a partition: the consumer's position
            # then moves past the last record it returned.
            position = await self._consumer.position(tp)
            if position > done:
                gaps[tp] = position
        if gaps and bounds.reached({**self.positions, **gaps}):
            await self._consumer.commit(gaps)
            self.positions.update(gaps)
            return True
        return False

    async def process_batch(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self._consumer is not None
        latest: dict[str, NsRecord] = {}
        read_at: dict[str, ReadAt] = {}
        for messages in batch.values():
            self.stats.read += len(messages)
            for message in messages:
                record = await self._documents.decode(
                    message, dead_letter=True, site=self.config.target
                )
                if record is None:
                    self.stats.undecodable += 1
                    continue
                if not self._routes.wants(record.stream):
                    self.stats.skipped_other_streams += 1
                    continue
                if self._routes.is_reread(
                    record.stream, message.topic, message.partition, message.offset
                ):
                    self.stats.reread += 1
                    continue
                if self._accept is not None and not self._accept(record):
                    self.stats.outside_window += 1
                    continue
                here = ReadAt(message.partition, message.offset, record.version)
                earlier = read_at.get(record.address)
                if earlier is not None:
                    self.stats.superseded += 1
                    if _older(here, earlier):
                        continue
                latest[record.address] = record
                read_at[record.address] = here
        pending = []
        for record in latest.values():
            if self.acked.is_superseded(record.address, read_at[record.address]):
                self.stats.superseded += 1
            elif self.acked.is_settled(record.address, record.content_hash):
                if (self.acked.get(record.address) or "").startswith(DELETED):
                    self.stats.skipped_deleted += 1
                else:
                    self.stats.skipped_unchanged += 1
            else:
                pending.append(record)
        # In chunks, so that what a target acknowledged is recorded even if a later part of the
        # batch is cancelled (a rebalance, a stop) and read again.
        for start in range(0, len(pending), WRITE_CHUNK):
            check_lease()
            await self._write_all(pending[start : start + WRITE_CHUNK], read_at)
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items() if messages}
        check_lease()
        await self._consumer.commit(offsets)
        self.positions.update(offsets)
        self.stats.batches += 1

    async def _write_all(self, records: list[NsRecord], read_at: dict[str, ReadAt]) -> None:
        by_collection: dict[Collection, list[NsRecord]] = {}
        for record in records:
            by_collection.setdefault(record.collection, []).append(record)
        results = await asyncio.gather(*(self._write(c, docs) for c, docs in by_collection.items()))
        answered: list[tuple[str, str]] = []
        for (collection, docs), outcomes in zip(by_collection.items(), results, strict=True):
            for record, outcome in zip(docs, outcomes, strict=True):
                answered.append(await self._settle(collection, record, outcome))
        check_lease()
        await self.acked.record(answered, read_at)

    async def _settle(
        self, collection: Collection, record: NsRecord, outcome: WriteOutcome
    ) -> tuple[str, str]:
        if outcome.written:
            self.stats.written += 1
            self.stats.by_collection[collection.value] = (
                self.stats.by_collection.get(collection.value, 0) + 1
            )
            return record.address, record.content_hash
        if outcome.status is WriteStatus.DELETED_BY_USER:
            self.stats.deleted_by_user += 1
            return record.address, DELETED + record.content_hash
        self.stats.rejected += 1
        await self._documents.reject(
            self.config.target,
            record,
            f"Nightscout rejected {collection.value}/{record.identifier}: {outcome.message}",
        )
        return record.address, REJECTED + record.content_hash

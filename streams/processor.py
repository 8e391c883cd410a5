"""The stream processor: raw vendor payloads in, new or changed Nightscout documents out.

A consumer group over the vendors' raw topics; each batch of payloads goes through
``PayloadHandler`` (decode, transform, DLQ, bindings, change filter, publish). The content
hashes of the documents made from raw partition ``p`` live in partition ``p`` of a compacted
changelog, held in a local store (``LocalHashStore``) that catches up with the changelog when
the partition is assigned. A batch's documents are acknowledged by Kafka (after the bindings
they need) before its hashes are written, and the hashes before the raw offsets are committed,
so a crash can repeat a document but never lose one.

Why not a faust agent: faust-streaming 0.15.3, restarted over a backlog, stopped delivering
events with lag left (half of the runs of ``tests/integration/test_processor_restart.py``), and
under a fresh group it processed events while its table recovered, then skipped ahead. The
same guarantees on plain aiokafka are a few lines, as in the sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError

from nightstream.schemas.bindings import StreamBindings
from nightstream.schemas.compacted import partitions_of
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.fencing import LoopWatch, PartitionOwnership, check_lease, process_leased
from nightstream.schemas.hash_store import DAY_MS, DEFAULT_HORIZON_DAYS, LocalHashStore
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer, kafka_producer
from nightstream.schemas.partition_batches import PartitionBatches
from nightstream.schemas.registry import RegistryAccess, SchemaRegistryClient
from nightstream.schemas.serde import Serde, make_serde
from nightstream.schemas.stream_partitions import document_partitions
from nightstream.schemas.topics import TopicNames
from nightstream.streams.payloads import PayloadHandler, PayloadTotals, PreparedBatch, RawItem
from nightstream.streams.stream_binder import StreamBinder
from nightstream.streams.transform import Transform

logger = logging.getLogger(__name__)

MAX_BATCH = 500
"""Raw payloads per batch: one wait for Kafka, one hash write and one commit for them all."""
FIRST_BATCH = 50
"""Until a batch shows how many documents a payload makes."""
DOCUMENTS_PER_BATCH = 5_000
"""Batches of big payloads (a 288-reading backfill) are cut to about this many documents, so
transforming one batch and Kafka's work on the one before stay about the same size."""
PRODUCER_BATCH_BYTES = 512 * 1024
"""Per partition and request. aiokafka's 16 KiB default made a backfill batch (tens of
thousands of documents) hundreds of sequential produce requests; brokers take 1 MiB batches
by default (``message.max.bytes``)."""
SESSION_TIMEOUT_MS = 15_000
"""A killed worker's partitions wait this long for another; the Kafka default is 45 s."""


@dataclass(frozen=True)
class ProcessorConfig:
    bootstrap_servers: Brokers
    topic_prefix: str
    partitions: int
    app_id: str | None = None
    replication_factor: int = 1
    schema_registry: RegistryAccess | None = None
    state_dir: Path | None = None
    """Where the content hashes are kept between rebalances and restarts (default: a temporary
    directory for this process, so a restart restores them from the changelog)."""
    hash_horizon_ms: int = int(DEFAULT_HORIZON_DAYS * DAY_MS)

    @property
    def consumer_group(self) -> str:
        return self.app_id or f"{self.topic_prefix}-processor"


RawBatch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class _LoadHashesOnAssignment:
    """Loads the hashes of newly assigned partitions; ``loaded`` is set once they are in.

    aiokafka starts fetching as soon as partitions are assigned, while this listener may still
    be reading the changelog, so the processing loop waits for ``loaded`` before each batch.
    """

    def __init__(self, hashes: LocalHashStore) -> None:
        self._hashes = hashes
        self.loaded = asyncio.Event()

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        self.loaded.clear()
        self._hashes.revoke({tp.partition for tp in revoked})

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in assigned}
        started = time.monotonic()
        read = await self._hashes.assign(partitions)
        self.loaded.set()
        logger.info(
            "processor: raw partitions %s assigned, %d changelog records caught up in %.2f s",
            sorted(partitions),
            read,
            time.monotonic() - started,
        )


class Processor:
    def __init__(self, config: ProcessorConfig, transforms: Mapping[str, Transform]) -> None:
        self.config = config
        self.names = TopicNames(config.topic_prefix)
        self._registry = (
            SchemaRegistryClient(config.schema_registry) if config.schema_registry else None
        )
        self._transforms = {self.names.raw(v): (v, t) for v, t in transforms.items()}
        self.totals = PayloadTotals()
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._handler: PayloadHandler | None = None
        self._assignment: _LoadHashesOnAssignment | None = None
        self._bindings: StreamBindings | None = None
        self._hashes: LocalHashStore | None = None
        self._batch_payloads = FIRST_BATCH
        self._ownership: PartitionOwnership | None = None
        self._watching: asyncio.Task[None] | None = None
        self._last_drop: str | None = None

    async def start(self) -> None:
        config = self.config
        self._producer = kafka_producer(
            config.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            # A batch is sent whole before anything is awaited, so Kafka batches form without
            # lingering, which would only add to each batch's latency.
            linger_ms=0,
            max_batch_size=PRODUCER_BATCH_BYTES,
        )
        producer = self._producer
        await producer.start()
        await self._require_changelog()
        hashes = LocalHashStore(
            config.bootstrap_servers,
            self.names.content_hashes,
            self._producer,
            state_dir=config.state_dir,
            horizon_ms=config.hash_horizon_ms,
        )
        self._hashes = hashes
        self._bindings = StreamBindings(
            config.bootstrap_servers,
            self.names.bindings,
            self._bindings_serde(),
        )
        await self._bindings.start()
        binder = StreamBinder(self._bindings, self._send, self._bindings_serde())
        self._handler = PayloadHandler(
            self.names,
            self._send,
            hashes,
            self._registry,
            binder=binder,
            partitions=await document_partitions(config.bootstrap_servers, self.names),
            batches=lambda: PartitionBatches(producer),
        )
        self._consumer = kafka_consumer(
            config.bootstrap_servers,
            group_id=config.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=MAX_BATCH,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=SESSION_TIMEOUT_MS // 5,
            metadata_max_age_ms=10_000,
        )
        self._assignment = _LoadHashesOnAssignment(hashes)
        self._ownership = PartitionOwnership(
            LoopWatch(frozen_after=SESSION_TIMEOUT_MS / 2000, quarantine=SESSION_TIMEOUT_MS / 1000),
            on_revoke=self._assignment.revoked,
            on_assign=self._assignment.assigned,
        )
        self._consumer.subscribe(list(self._transforms), listener=self._ownership)
        self._watching = asyncio.create_task(self._ownership.watch.run())
        await self._consumer.start()
        logger.info(
            "processor started: group %s, raw topics %s",
            config.consumer_group,
            ", ".join(self._transforms),
        )

    async def _require_changelog(self) -> None:
        topic = self.names.content_hashes
        have = len(await partitions_of(self.config.bootstrap_servers, topic))
        if have < self.config.partitions:
            raise NightstreamError(
                f"the processor's hash changelog {topic} has {have} partitions, "
                f"{self.config.partitions} needed: run `nightstream topics create` first"
            )

    def _bindings_serde(self) -> Serde:
        subject = f"{self.names.bindings}-value"
        return make_serde("stream_binding", subject=subject, registry=self._registry)

    async def stop(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._bindings is not None:
            await self._bindings.stop()
        if self._producer is not None:
            await self._producer.stop()
        if self._hashes is not None:
            self._hashes.close()

    async def run(self, stop: asyncio.Event) -> None:
        assert self._consumer is not None, "start() first"
        assert self._handler is not None
        assert self._assignment is not None
        in_flight: tuple[asyncio.Task[str | None], RawBatch] | None = None
        try:
            while not stop.is_set():
                batch = await self._consumer.getmany(
                    timeout_ms=0 if in_flight else 500, max_records=self._batch_payloads
                )
                prepared = None
                if batch:
                    await self._assignment.loaded.wait()
                    items: list[RawItem] = [
                        (*self._transforms[tp.topic], message)
                        for tp, messages in batch.items()
                        for message in messages
                    ]
                    # Transforming this batch overlaps Kafka's work on the one before.
                    prepared = self._handler.prepare(items)
                    self._batch_payloads = prepared.payloads_for(DOCUMENTS_PER_BATCH, MAX_BATCH)
                if in_flight is not None:
                    task, before = in_flight
                    in_flight = None
                    if await task is not None and prepared is not None:
                        self._rewind(batch, before)
                        prepared = None
                if prepared is not None:
                    in_flight = (asyncio.create_task(self._leased(batch, prepared)), batch)
        finally:
            if in_flight is not None:
                await in_flight[0]

    def _rewind(self, batch: RawBatch, dropped: RawBatch) -> None:
        """The batch before ``batch`` was dropped and its partitions rewound to it; ``batch``,
        fetched after it, is dropped too: its other partitions are rewound to it."""
        assert self._consumer is not None
        assert self._ownership is not None
        for tp, messages in batch.items():
            if tp not in dropped and messages and self._ownership.epoch(tp) is not None:
                with contextlib.suppress(IllegalStateError):
                    self._consumer.seek(tp, messages[0].offset)

    async def _leased(self, batch: RawBatch, prepared: PreparedBatch) -> str | None:
        """Once this instance lost the batch's partitions, or stood still, it publishes and
        commits nothing more of it; the partitions' owner processes the payloads again, and the
        change filter makes that harmless. Returns why it was dropped, or None."""
        assert self._consumer is not None
        assert self._ownership is not None
        work = self._deliver(batch, prepared)
        why = await process_leased(self._ownership, self._consumer, batch, work)
        if why is not None and why != self._last_drop:
            logger.warning("processor: a batch was dropped unacknowledged: %s", why)
        self._last_drop = why
        return why

    async def _deliver(self, batch: RawBatch, prepared: PreparedBatch) -> None:
        """One batch after the one before it: documents, hashes, then the raw offsets."""
        assert self._consumer is not None
        assert self._handler is not None
        for stats in await self._handler.deliver(prepared):
            self.totals.add(stats)
        check_lease()
        await self._consumer.commit({tp: messages[-1].offset + 1 for tp, messages in batch.items()})

    async def _send(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None
    ) -> Any:
        assert self._producer is not None
        check_lease()
        return await self._producer.send(topic, value, key=key, partition=partition)


def processor_role(processor: Processor) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """The processor as a role for ``nightstream.roles.run_roles``."""

    async def run(stop: asyncio.Event) -> None:
        try:
            await processor.start()
            await processor.run(stop)
        finally:
            await processor.stop()
            logger.info("processor: %s", processor.totals.describe())

    return run

"""One pass of the transforms over a raw topic, from its start to where it ended when it began.

Runs ``PayloadHandler`` (the processor's own per-payload code) without faust: the partitions of
the raw topic are assigned directly (no consumer group, nothing committed) and read from their
beginning; the content hashes are read from the processor table's changelog and extended in it,
exactly as faust writes them (JSON key and value, in the partition of the raw record), so only
documents whose content changed are emitted, and the processor later recovers those hashes.

Why not faust under a fresh app id: faust 0.15.3 lets the agent process events while its table
is still recovering, then seeks to offsets it committed itself meanwhile; on the real broker that
skipped raw payloads (a pass read 11 of 32).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from nightstream.schemas.hash_changelog import ChangelogHashes
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer, kafka_producer
from nightstream.schemas.offset_bounds import OffsetBounds
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.stream_partitions import document_partitions
from nightstream.schemas.topics import TopicNames
from nightstream.streams.payloads import PayloadHandler, PayloadTotals, RawItem
from nightstream.streams.transform import Transform

BATCH = 20


class Reprocessor:
    def __init__(
        self,
        bootstrap_servers: Brokers,
        names: TopicNames,
        vendor: str,
        transform: Transform,
        registry: SchemaRegistryClient | None = None,
        *,
        only_link: str | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._names = names
        self._vendor = vendor
        self._transform = transform
        self._registry = registry
        self._only_link = only_link
        self.totals = PayloadTotals()
        self.positions: dict[TopicPartition, int] = {}
        """Next raw offset to process per partition."""

    async def run(self, bounds: OffsetBounds, stop: asyncio.Event) -> bool:
        """Process every raw record inside ``bounds`` (then True), unless ``stop`` comes first."""
        if bounds.total == 0:
            # Nothing to read. (aiokafka cannot stop a consumer just started: its stop() raises
            # CancelledError from a task that never ran.)
            return True
        producer = kafka_producer(self._bootstrap, acks="all", enable_idempotence=True, linger_ms=0)
        consumer = kafka_consumer(self._bootstrap, enable_auto_commit=False, max_poll_records=BATCH)
        await producer.start()
        try:
            hashes = ChangelogHashes(self._bootstrap, self._names.content_hashes, producer)
            await hashes.load()

            async def send(
                topic: str, key: bytes | None, value: bytes, partition: int | None
            ) -> asyncio.Future[object]:
                sent: asyncio.Future[object] = await producer.send(
                    topic, value, key=key, partition=partition
                )
                return sent

            handler = PayloadHandler(
                self._names,
                send,
                hashes,
                self._registry,
                only_link=self._only_link,
                partitions=await document_partitions(self._bootstrap, self._names),
            )
            await consumer.start()
            return await self._consume(consumer, handler, bounds, stop)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _consume(
        self,
        consumer: AIOKafkaConsumer,
        handler: PayloadHandler,
        bounds: OffsetBounds,
        stop: asyncio.Event,
    ) -> bool:
        todo = [tp for tp, end in bounds.end.items() if end > bounds.start[tp]]
        if not todo:
            return True
        consumer.assign(todo)
        for tp in todo:
            consumer.seek(tp, bounds.start[tp])
        while not bounds.reached(self.positions):
            batch = await consumer.getmany(timeout_ms=500)
            if stop.is_set():
                return False
            items: list[RawItem] = []
            for tp, messages in batch.items():
                inside = [m for m in messages if m.offset < bounds.end[tp]]
                if len(inside) < len(messages):
                    consumer.pause(tp)
                items += [(self._vendor, self._transform, m) for m in inside]
            for stats in await handler.handle_batch(items):
                self.totals.add(stats)
            for _, _, message in items:
                tp = TopicPartition(message.topic, message.partition)
                self.positions[tp] = max(self.positions.get(tp, 0), message.offset + 1)
            if not batch:
                await self._skip_gaps(consumer, bounds)
        return True

    async def _skip_gaps(self, consumer: AIOKafkaConsumer, bounds: OffsetBounds) -> None:
        """Positions past the last record (transaction markers, say) count as consumed."""
        for tp in consumer.assignment():
            position = await consumer.position(tp)
            if position > self.positions.get(tp, bounds.start[tp]):
                self.positions[tp] = min(position, bounds.end[tp])

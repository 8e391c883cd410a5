"""The bindings topic as a table: which vendor-side stream each link reads.

A link's stream is known only once its poller has logged in (a Dexcom account id, say), so the
processor learns it from the link's raw payloads and records it on a compacted topic
(``link id -> StreamBinding``). Sinks read the topic to route each stream to the targets of
every configured link bound to it. ``sync()`` reads up to the end offset the topic has *now*:
a binding is acknowledged by Kafka before the documents of its payload are published, so a sink
that syncs after reading a document sees every binding written before that document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from nightstream.schemas.compacted import partitions_of
from nightstream.schemas.errors import NightstreamError, RecordDecodeError
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer
from nightstream.schemas.records import StreamBinding
from nightstream.schemas.serde import Serde

logger = logging.getLogger(__name__)


class StreamBindings:
    def __init__(self, bootstrap_servers: Brokers, topic: str, serde: Serde) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._serde = serde
        self._by_link: dict[str, StreamBinding] = {}
        self.version = 0
        """Counts the changes applied: readers that derive tables from bindings redo them only
        when it moved."""
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    def __len__(self) -> int:
        return len(self._by_link)

    def stream_of(self, link_id: str) -> str | None:
        binding = self._by_link.get(link_id)
        return binding.stream if binding is not None else None

    def streams_of(self, link_ids: Iterable[str]) -> frozenset[str]:
        """The streams read by any of ``link_ids`` (links not bound yet add nothing)."""
        return frozenset(
            binding.stream for link in link_ids if (binding := self._by_link.get(link)) is not None
        )

    def remember(self, binding: StreamBinding) -> None:
        """Apply a binding this process wrote itself (it will also read it back later)."""
        self._by_link[binding.link_id] = binding
        self.version += 1

    async def start(self) -> None:
        partitions = await partitions_of(self._bootstrap, self.topic)
        if not partitions:
            raise NightstreamError(
                f"topic {self.topic} does not exist: run `nightstream topics create` first"
            )
        self._consumer = kafka_consumer(self._bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        self._partitions = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        await self.sync()
        logger.info("%d stream bindings loaded from %s", len(self._by_link), self.topic)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def sync(self) -> None:
        """Read every binding written before this call."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        end = await consumer.end_offsets(self._partitions)
        pending = {tp for tp in self._partitions if await consumer.position(tp) < end[tp]}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for messages in batch.values():
                for message in messages:
                    self._apply(message)
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}

    def _apply(self, message: ConsumerRecord[bytes, bytes]) -> None:
        if message.key is None:
            return
        self.version += 1
        if message.value is None:
            self._by_link.pop(message.key.decode(), None)
            return
        try:
            decoded = self._serde.decode(
                message.value, topic=message.topic, partition=message.partition
            )
            binding = StreamBinding.from_avro(decoded)
        except (RecordDecodeError, TypeError) as exc:
            logger.warning("ignoring an unreadable stream binding: %s", exc)
            return
        self._by_link[binding.link_id] = binding

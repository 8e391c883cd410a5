"""The stream processor: raw vendor payloads in, new or changed Nightscout documents out.

One faust agent per vendor raw topic; each payload goes through ``PayloadHandler`` (decode,
transform, DLQ, change filter, publish). The content hashes live in the changelog-backed
``content-hashes`` table, updated only after Kafka has acknowledged the published documents, so
a crash can repeat a document but never lose one.

The table's changelog topic is named after the topic prefix, not the faust app id
(``TopicNames.content_hashes``), so ``nightstream reprocess`` can read and extend the same hashes
without running this app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from schemas.registry import SchemaRegistryClient
from schemas.topics import TopicNames
from streams.payloads import PayloadHandler, PayloadStats
from streams.transform import Transform


@dataclass(frozen=True)
class ProcessorConfig:
    bootstrap_servers: str
    topic_prefix: str
    partitions: int
    app_id: str | None = None
    replication_factor: int = 1
    schema_registry_url: str | None = None
    datadir: str | None = None


class _TableHashes:
    """The faust table as the handler's hash store; faust writes its changelog itself, to the
    partition of the event being processed."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, address: str) -> str | None:
        value = self._table.get(address)
        return str(value) if value else None

    async def record(self, entries: Sequence[tuple[str, str]], partition: int) -> None:
        for address, content_hash in entries:
            self._table[address] = content_hash


class Processor:
    """Builds the faust app and its agents; ``app`` is what a worker runs."""

    def __init__(self, config: ProcessorConfig, transforms: Mapping[str, Transform]) -> None:
        self.config = config
        self.names = TopicNames(config.topic_prefix)
        registry = (
            SchemaRegistryClient(config.schema_registry_url) if config.schema_registry_url else None
        )
        self.app = faust.App(
            config.app_id or f"{config.topic_prefix}-processor",
            broker=f"kafka://{config.bootstrap_servers.split(',')[0]}",
            store="memory://",
            topic_partitions=config.partitions,
            topic_replication_factor=config.replication_factor,
            processing_guarantee="at_least_once",
            consumer_auto_offset_reset="earliest",
            web_enabled=False,
            table_standby_replicas=0,
            datadir=config.datadir,
            producer_acks=-1,
            # A killed worker's partitions stay blocked until its session times out; faust's
            # default 60 s would stall the pipeline for a minute after every crash.
            broker_session_timeout=15.0,
            broker_heartbeat_interval=3.0,
        )
        self.hashes = self.app.Table(
            "content-hashes",
            default=str,
            partitions=config.partitions,
            help="collection/identifier -> hash",
            changelog_topic=self.app.topic(
                self.names.content_hashes,
                # As faust declares a table's own changelog topic.
                partitions=config.partitions,
                compacting=True,
                deleting=False,
                acks=False,
                internal=True,
                key_serializer="json",
                value_serializer="json",
                maxsize=131_072,
                allow_empty=True,
            ),
        )
        self.handler = PayloadHandler(self.names, self._send, _TableHashes(self.hashes), registry)
        for vendor, transform in transforms.items():
            self._add_agent(vendor, transform)

    async def _send(self, topic: str, key: bytes | None, value: bytes) -> Any:
        # The producer directly rather than Topic.send: a payload yields hundreds of documents and
        # faust's per-message bookkeeping (callbacks, FutureMessage) is most of their cost.
        return await self.app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=None
        )

    def _add_agent(self, vendor: str, transform: Transform) -> None:
        topic = self.app.topic(self.names.raw(vendor), key_serializer="raw", value_serializer="raw")

        async def process(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
            async for event in stream.events():
                await self.handle(vendor, transform, event.message)
                yield None

        process.__name__ = f"transform_{vendor}"
        process.__qualname__ = process.__name__
        self.app.agent(topic, name=f"transform-{vendor}")(process)

    async def handle(self, vendor: str, transform: Transform, message: Any) -> PayloadStats:
        return await self.handler.handle(vendor, transform, message)

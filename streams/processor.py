"""The stream processor: raw vendor payloads in, new or changed Nightscout documents out.

One faust agent per vendor raw topic. For each payload: decode the envelope, run the vendor's
pure transform, and publish only the documents whose content hash differs from the one recorded
in the changelog-backed ``content-hashes`` table. The table is updated only after Kafka has
acknowledged the published documents, so a crash can repeat a document but never lose one.
Anything that cannot be processed goes to the DLQ with its original bytes and the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import faust

from schemas.documents import Collection, NsRecord, to_avro
from schemas.errors import RecordDecodeError
from schemas.records import DeadLetter, RawPayload
from schemas.registry import SchemaRegistryClient
from schemas.serde import Serde, make_serde
from schemas.topics import TopicNames
from schemas.version import app_version
from streams.transform import Transform

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessorConfig:
    bootstrap_servers: str
    topic_prefix: str
    partitions: int
    app_id: str | None = None
    replication_factor: int = 1
    schema_registry_url: str | None = None
    datadir: str | None = None


@dataclass
class PayloadStats:
    emitted: int = 0
    unchanged: int = 0
    rejected: int = 0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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
        )
        self.raw_serdes: dict[str, Serde] = {}
        self.doc_serdes: dict[Collection, Serde] = {
            c: make_serde(c.schema_name, subject=f"{self.names.ns(c)}-value", registry=registry)
            for c in Collection
        }
        self.dlq_serde = make_serde(
            "dead_letter", subject=f"{self.names.dlq}-value", registry=registry
        )
        self.dlq_topic = self.app.topic(
            self.names.dlq, key_serializer="raw", value_serializer="raw"
        )
        for vendor, transform in transforms.items():
            raw_topic = self.names.raw(vendor)
            self.raw_serdes[vendor] = make_serde(
                "raw_payload", subject=f"{raw_topic}-value", registry=registry
            )
            self._add_agent(vendor, transform)

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
        stats = PayloadStats()
        value: bytes = message.value
        try:
            decoded = self.raw_serdes[vendor].decode(
                value, topic=message.topic, partition=message.partition, offset=message.offset
            )
            raw = RawPayload.from_avro(decoded)
        except (RecordDecodeError, TypeError) as exc:
            await self._dead_letter("decode", str(exc), message, value, vendor=vendor)
            stats.rejected += 1
            return stats
        output = transform(raw)
        for rejected in output.rejected:
            await self._dead_letter(
                "transform",
                rejected.reason,
                message,
                rejected.fragment,
                vendor=vendor,
                link_id=raw.link_id,
            )
        stats.rejected = len(output.rejected)
        changed = [r for r in output.records if self.hashes.get(r.address) != r.content_hash]
        stats.unchanged = len(output.records) - len(changed)
        await self._publish(changed)
        for record in changed:
            self.hashes[record.address] = record.content_hash
        stats.emitted = len(changed)
        if changed or stats.rejected:
            logger.info(
                "link %s %s: %d new or changed, %d unchanged, %d to DLQ",
                raw.link_id,
                raw.endpoint,
                stats.emitted,
                stats.unchanged,
                stats.rejected,
            )
        return stats

    async def _publish(self, records: list[NsRecord]) -> None:
        # The producer directly rather than Topic.send: a payload yields hundreds of documents and
        # faust's per-message bookkeeping (callbacks, FutureMessage) is most of their cost.
        producer = self.app.producer
        pending = []
        for record in records:
            value = self.doc_serdes[record.collection].encode(to_avro(record))
            pending.append(
                await producer.send(
                    self.names.ns(record.collection),
                    record.identifier.encode(),
                    value,
                    partition=None,
                    timestamp=None,
                    headers=None,
                )
            )
        # Wait for Kafka's acknowledgement before the hashes are recorded (see module doc).
        await asyncio.gather(*pending)

    async def _dead_letter(
        self,
        stage: str,
        reason: str,
        message: Any,
        original: bytes,
        *,
        vendor: str | None = None,
        link_id: str | None = None,
    ) -> None:
        letter = DeadLetter(
            stage=stage,
            reason=reason,
            source_topic=message.topic,
            source_partition=message.partition,
            source_offset=message.offset,
            link_id=link_id,
            vendor=vendor,
            original_key=message.key,
            original_value=original,
            failed_at_ms=_now_ms(),
            app_version=app_version(),
        )
        logger.warning(
            "to DLQ (%s) from %s[%s]@%s: %s",
            stage,
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        sent = await self.dlq_topic.send(
            key=message.key, value=self.dlq_serde.encode(letter.to_avro())
        )
        await sent

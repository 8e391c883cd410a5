"""One raw payload in, only new or changed Nightscout documents out: the processor's work.

Decode the envelope, run the vendor's pure transform, send rejected fragments to the DLQ, and
publish only the documents whose content hash differs from the recorded one. The new hashes are
recorded only after Kafka acknowledged the documents, so a crash can repeat a document but never
lose one. The same code runs in the processor and in a reprocess pass; they differ only
in how they send records and where the hashes live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.dead_letters import bounded_dead_letter
from schemas.documents import Collection, NsRecord, to_avro
from schemas.errors import RecordDecodeError
from schemas.records import DeadLetter, RawPayload
from schemas.registry import SchemaRegistryClient
from schemas.serde import Serde, make_serde
from schemas.topics import TopicNames
from schemas.version import app_version
from streams.transform import Transform

logger = logging.getLogger(__name__)

Send = Callable[[str, bytes | None, bytes], Awaitable[Awaitable[Any]]]
"""``send(topic, key, value)``: queue a record, return what completes on Kafka's answer."""


class RawMessage(Protocol):
    """What faust's messages and aiokafka's consumer records both have."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class HashStore(Protocol):
    """``collection/identifier -> content hash`` of the documents emitted so far."""

    def get(self, address: str) -> str | None: ...

    async def record(self, entries: Sequence[tuple[str, str]], partition: int) -> None:
        """Remember hashes of documents that came from raw ``partition``."""


@dataclass
class PayloadStats:
    emitted: int = 0
    unchanged: int = 0
    rejected: int = 0
    other_link: bool = False


@dataclass
class PayloadTotals:
    """What a run did, over every payload it read."""

    payloads: int = 0
    other_links: int = 0
    emitted: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, stats: PayloadStats) -> None:
        self.payloads += 1
        self.other_links += stats.other_link
        self.emitted += stats.emitted
        self.unchanged += stats.unchanged
        self.rejected += stats.rejected


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PayloadHandler:
    def __init__(
        self,
        names: TopicNames,
        send: Send,
        hashes: HashStore,
        registry: SchemaRegistryClient | None = None,
        *,
        only_link: str | None = None,
    ) -> None:
        self.names = names
        self._send = send
        self._hashes = hashes
        self._registry = registry
        self._only_link = only_link.encode() if only_link is not None else None
        self._raw_serdes: dict[str, Serde] = {}
        self._doc_serdes: dict[Collection, Serde] = {
            c: make_serde(c.schema_name, subject=f"{names.ns(c)}-value", registry=registry)
            for c in Collection
        }
        self._dlq_serde = make_serde("dead_letter", subject=f"{names.dlq}-value", registry=registry)

    def _raw_serde(self, vendor: str) -> Serde:
        serde = self._raw_serdes.get(vendor)
        if serde is None:
            subject = f"{self.names.raw(vendor)}-value"
            serde = make_serde("raw_payload", subject=subject, registry=self._registry)
            self._raw_serdes[vendor] = serde
        return serde

    async def handle(self, vendor: str, transform: Transform, message: RawMessage) -> PayloadStats:
        stats = PayloadStats()
        if self._only_link is not None and message.key != self._only_link:
            stats.other_link = True
            return stats
        value = message.value or b""
        try:
            decoded = self._raw_serde(vendor).decode(
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
        changed = [r for r in output.records if self._hashes.get(r.address) != r.content_hash]
        stats.unchanged = len(output.records) - len(changed)
        await self._publish(changed)
        await self._hashes.record([(r.address, r.content_hash) for r in changed], message.partition)
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
        pending = []
        for record in records:
            value = self._doc_serdes[record.collection].encode(to_avro(record))
            topic = self.names.ns(record.collection)
            pending.append(await self._send(topic, record.identifier.encode(), value))
        # Kafka's acknowledgement comes before the hashes are recorded (see module doc).
        await asyncio.gather(*pending)

    async def _dead_letter(
        self,
        stage: str,
        reason: str,
        message: RawMessage,
        original: bytes,
        *,
        vendor: str | None = None,
        link_id: str | None = None,
    ) -> None:
        # A huge bad payload must not make its own dead letter too large to publish.
        letter = bounded_dead_letter(
            DeadLetter(
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
        )
        logger.warning(
            "to DLQ (%s) from %s[%s]@%s: %s",
            stage,
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        sent = await self._send(
            self.names.dlq, message.key, self._dlq_serde.encode(letter.to_avro())
        )
        await sent

"""Raw answers to Kafka, then the cursor: one link's poll result made durable.

Raw records are zstd-compressed and may be as large as ``schemas.topics.MAX_VENDOR_ANSWER_BYTES``
of vendor JSON. A larger answer (or one the broker refuses as too large, e.g. a raw topic
created before its ``max.message.bytes`` was raised) is not published: the link gets one error
line, the DLQ gets a small letter (SHA-256, size, link, vendor, endpoint, window; never the
body), and the cursor moves past the answer's window, as for an answer that was published.
So the link goes on with new data instead of asking for the same oversize window forever; the
skipped window is what the letter names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from nightstream.schemas.dead_letters import bounded_dead_letter, sha256_hex, value_reference
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_producer
from nightstream.schemas.records import DeadLetter, PollCursor, RawPayload
from nightstream.schemas.serde import Serde
from nightstream.schemas.topics import (
    MAX_VENDOR_ANSWER_BYTES,
    RAW_COMPRESSION,
    RAW_RECORD_MAX_BYTES,
    TopicNames,
)
from nightstream.schemas.version import app_version
from nightstream.sources.cursors import CursorStore
from nightstream.sources.poll_source import FetchResult

logger = logging.getLogger(__name__)

OVERSIZE_STAGE = "poll"
LINGER_MS = 10
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Published:
    payloads: int
    skipped: int
    """Answers too large for a raw topic: a dead letter each, their windows skipped."""


def raw_producer(bootstrap_servers: Brokers) -> AIOKafkaProducer:
    """A producer for raw records, cursors and dead letters, sized for the largest answer."""
    return kafka_producer(
        bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        compression_type=RAW_COMPRESSION,
        # aiokafka checks the uncompressed size against this (before compressing).
        max_request_size=RAW_RECORD_MAX_BYTES,
        # Many links' raw records and cursors share a produce request: at 10,000 links a
        # request per record cost the poller more CPU than its HTTP.
        linger_ms=LINGER_MS,
    )


class RawPublisher:
    def __init__(
        self,
        *,
        producer: AIOKafkaProducer,
        names: TopicNames,
        raw_serdes: Mapping[str, Serde],
        dead_letter_serde: Serde,
        cursors: CursorStore,
        clock: Callable[[], int],
    ) -> None:
        self._producer = producer
        self._names = names
        self._raw_serdes = raw_serdes
        self._dlq_serde = dead_letter_serde
        self._cursors = cursors
        self._clock = clock

    async def publish(
        self, link_id: str, vendor: str, cursor: PollCursor | None, result: FetchResult
    ) -> Published:
        """Publish ``result``'s answers, then save the link's cursor (only after Kafka acked)."""
        topic = self._names.raw(vendor)
        key = link_id.encode()
        pending: list[tuple[RawPayload, asyncio.Future[object]]] = []
        skipped: list[RawPayload] = []
        for payload in result.payloads:
            if len(payload.body) > MAX_VENDOR_ANSWER_BYTES:
                await self._skip(topic, payload, _over_limit(payload))
                skipped.append(payload)
                continue
            value = self._raw_serdes[vendor].encode(payload.to_avro())
            try:
                pending.append((payload, await self._producer.send(topic, key=key, value=value)))
            except MessageSizeTooLargeError:
                await self._skip(topic, payload, _over_limit(payload))
                skipped.append(payload)
        for payload, sent in pending:
            try:
                await sent
            except MessageSizeTooLargeError:
                await self._skip(topic, payload, _refused_by_broker(payload, topic))
                skipped.append(payload)
        await self._save_cursor(link_id, vendor, cursor, result, skipped)
        return Published(len(result.payloads) - len(skipped), len(skipped))

    async def _skip(self, topic: str, payload: RawPayload, why: str) -> None:
        window = f"{payload.window_start_ms}..{payload.window_end_ms}"
        digest = sha256_hex(payload.body)
        logger.error(
            "link %s: %s; window %s skipped, a reference (sha256 %s) is in %s",
            payload.link_id,
            why,
            window,
            digest[:16],
            self._names.dlq,
        )
        reference = value_reference(
            payload.body,
            link_id=payload.link_id,
            vendor=payload.vendor,
            endpoint=payload.endpoint,
            window_start_ms=payload.window_start_ms,
            window_end_ms=payload.window_end_ms,
            fetched_at_ms=payload.fetched_at_ms,
            http_status=payload.http_status,
        )
        letter = DeadLetter(
            stage=OVERSIZE_STAGE,
            reason=f"{why}; the window {window} was skipped",
            source_topic=topic,
            link_id=payload.link_id,
            vendor=payload.vendor,
            original_key=payload.link_id.encode(),
            original_value=reference,
            failed_at_ms=self._clock(),
            app_version=app_version(),
        )
        value = self._dlq_serde.encode(bounded_dead_letter(letter).to_avro())
        await self._producer.send_and_wait(self._names.dlq, key=letter.original_key, value=value)

    async def _save_cursor(
        self,
        link_id: str,
        vendor: str,
        cursor: PollCursor | None,
        result: FetchResult,
        skipped: list[RawPayload],
    ) -> None:
        newest_candidates = [result.newest_data_ms]
        if cursor is not None:
            newest_candidates.append(cursor.newest_data_ms)
        # Past a skipped window: the next poll asks only for what came after it.
        newest_candidates += [p.window_end_ms for p in skipped]
        known = [ms for ms in newest_candidates if ms is not None]
        now = self._clock()
        await self._cursors.save(
            self._producer,
            PollCursor(
                link_id=link_id,
                vendor=vendor,
                updated_at_ms=now,
                newest_data_ms=max(known) if known else None,
                last_success_ms=now,
                state=result.state,
            ),
        )


def _over_limit(payload: RawPayload) -> str:
    size = len(payload.body)
    return (
        f"the {payload.endpoint} answer is {size / _MIB:.1f} MiB ({size} bytes), over the "
        f"{MAX_VENDOR_ANSWER_BYTES // _MIB} MiB a raw topic takes"
    )


def _refused_by_broker(payload: RawPayload, topic: str) -> str:
    size = len(payload.body)
    return (
        f"Kafka refused the {payload.endpoint} answer of {size / _MIB:.1f} MiB as too large: "
        f"raise max.message.bytes of {topic} to {RAW_RECORD_MAX_BYTES} "
        "(`nightstream topics create` reports the difference)"
    )

"""The document topics as the sink reads them: decoding, and dead letters for what fails.

A record that cannot be decoded goes to the DLQ once, by the live readers (a catch-up reading
it again skips it quietly); a document a site rejects goes there with the site's answer.
"""

from __future__ import annotations

import logging
import time

from aiokafka import AIOKafkaProducer, ConsumerRecord

from nightstream.schemas.documents import Collection, NsRecord, from_avro, to_avro
from nightstream.schemas.errors import RecordDecodeError
from nightstream.schemas.fencing import check_lease
from nightstream.schemas.records import DeadLetter
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.serde import Serde, make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.schemas.version import app_version

logger = logging.getLogger(__name__)


class DocumentTopics:
    def __init__(
        self, names: TopicNames, producer: AIOKafkaProducer, registry: SchemaRegistryClient | None
    ) -> None:
        self._names = names
        self._producer = producer
        self._serdes: dict[str, tuple[Collection, Serde]] = {
            names.ns(c): (
                c,
                make_serde(c.schema_name, subject=f"{names.ns(c)}-value", registry=registry),
            )
            for c in Collection
        }
        self._dlq_serde = make_serde("dead_letter", subject=f"{names.dlq}-value", registry=registry)
        self.undecodable = 0

    @property
    def topics(self) -> list[str]:
        return list(self._serdes)

    async def decode(
        self, message: ConsumerRecord, *, dead_letter: bool = False
    ) -> NsRecord | None:
        """The document, or None (then, with ``dead_letter``, the record went to the DLQ)."""
        collection, serde = self._serdes[message.topic]
        try:
            value = serde.decode(
                message.value,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
            return from_avro(collection, value)
        except (RecordDecodeError, KeyError, ValueError) as exc:
            if dead_letter:
                self.undecodable += 1
                await self._send(
                    DeadLetter(
                        stage="decode",
                        reason=str(exc),
                        source_topic=message.topic,
                        source_partition=message.partition,
                        source_offset=message.offset,
                        original_key=message.key,
                        original_value=message.value or b"",
                        failed_at_ms=time.time_ns() // 1_000_000,
                        app_version=app_version(),
                    )
                )
            return None

    async def reject(self, site: str, record: NsRecord, reason: str) -> None:
        """``site`` refused ``record`` for good: to the DLQ, with its answer."""
        topic = self._names.ns(record.collection)
        _collection, serde = self._serdes[topic]
        await self._send(
            DeadLetter(
                stage="sink",
                reason=reason,
                source_topic=topic,
                target=site,
                original_key=record.identifier.encode(),
                original_value=serde.encode(to_avro(record)),
                failed_at_ms=time.time_ns() // 1_000_000,
                app_version=app_version(),
            )
        )

    async def _send(self, letter: DeadLetter) -> None:
        check_lease()
        logger.warning("to DLQ (%s): %s", letter.stage, letter.reason)
        await self._producer.send_and_wait(
            self._names.dlq, key=letter.original_key, value=self._dlq_serde.encode(letter.to_avro())
        )

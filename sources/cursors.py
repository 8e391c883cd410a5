"""Durable poll cursors on the compacted ``cursors`` topic, one per link.

Read in full at start-up; a cursor is saved only after the raw records it covers were
acknowledged by Kafka, so a crash re-polls an overlapping window instead of skipping one.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.errors import RecordDecodeError
from schemas.records import PollCursor
from schemas.serde import Serde

logger = logging.getLogger(__name__)


class CursorStore:
    def __init__(self, bootstrap_servers: str, topic: str, serde: Serde) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._serde = serde
        self._cursors: dict[str, PollCursor] = {}

    def get(self, link_id: str) -> PollCursor | None:
        return self._cursors.get(link_id)

    async def load(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            if not partitions:
                await consumer.topics()
                partitions = consumer.partitions_for_topic(self.topic) or set()
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            if not assigned:
                return
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            end = await consumer.end_offsets(assigned)
            pending = {tp for tp in assigned if end[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=1000)
                for messages in batch.values():
                    for message in messages:
                        self._apply(message.value, message.partition, message.offset)
                for tp in list(pending):
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
        finally:
            await consumer.stop()
        logger.info("loaded %d poll cursors from %s", len(self._cursors), self.topic)

    def _apply(self, value: bytes | None, partition: int, offset: int) -> None:
        if value is None:
            return
        try:
            cursor = PollCursor.from_avro(
                self._serde.decode(value, topic=self.topic, partition=partition, offset=offset)
            )
        except RecordDecodeError as exc:
            logger.warning("ignoring an unreadable cursor: %s", exc)
            return
        self._cursors[cursor.link_id] = cursor

    async def save(self, producer: AIOKafkaProducer, cursor: PollCursor) -> None:
        await producer.send_and_wait(
            self.topic, key=cursor.link_id.encode(), value=self._serde.encode(cursor.to_avro())
        )
        self._cursors[cursor.link_id] = cursor

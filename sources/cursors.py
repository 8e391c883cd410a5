"""Durable poll cursors on the compacted ``cursors`` topic, one per link.

Read in full at start-up, and again for links a poller takes over from another instance while it
runs (``reload``); a cursor is saved only after the raw records it covers were
acknowledged by Kafka, so a crash re-polls an overlapping window instead of skipping one.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from aiokafka import AIOKafkaProducer

from nightstream.schemas.compacted import read_latest
from nightstream.schemas.errors import RecordDecodeError
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.records import PollCursor
from nightstream.schemas.serde import Serde

logger = logging.getLogger(__name__)


class CursorStore:
    def __init__(self, bootstrap_servers: Brokers, topic: str, serde: Serde) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._serde = serde
        self._cursors: dict[str, PollCursor] = {}

    def get(self, link_id: str) -> PollCursor | None:
        return self._cursors.get(link_id)

    async def load(self) -> None:
        for key, value in (await read_latest(self._bootstrap, self.topic)).items():
            self._apply(key, value)
        logger.info("loaded %d poll cursors from %s", len(self._cursors), self.topic)

    async def reload(self, link_ids: Collection[str]) -> None:
        """Read these links' cursors again: another poller instance may have polled them since
        the load (only theirs, so a cursor this instance saved meanwhile never goes back)."""
        wanted = {link_id.encode() for link_id in link_ids}
        for key, value in (await read_latest(self._bootstrap, self.topic)).items():
            if key in wanted:
                self._apply(key, value)

    def _apply(self, key: bytes, value: bytes) -> None:
        try:
            cursor = PollCursor.from_avro(self._serde.decode(value, topic=self.topic))
        except RecordDecodeError as exc:
            logger.warning("ignoring an unreadable cursor: %s", exc)
            return
        self._cursors[cursor.link_id] = cursor

    async def save(self, producer: AIOKafkaProducer, cursor: PollCursor) -> None:
        await producer.send_and_wait(
            self.topic, key=cursor.link_id.encode(), value=self._serde.encode(cursor.to_avro())
        )
        self._cursors[cursor.link_id] = cursor

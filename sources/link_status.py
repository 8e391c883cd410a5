"""Each link's state as its poller sees it, on the compacted link-status topic.

The poller that owns a link says ``running`` when it starts it, ``stopped`` with the one message
telling the user what to do when the link cannot go on, and ``released`` when it hands the link
back (removed, paused, or moved to another instance).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer

from nightstream.schemas.records import LinkState, LinkStatusRecord
from nightstream.schemas.serde import Serde

logger = logging.getLogger(__name__)


class LinkStatusPublisher:
    """Statuses are advisory: sent without waiting for each acknowledgement (thousands of links
    start at once after an assignment); a failed send is logged."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, serde: Serde, owner: str) -> None:
        self._producer = producer
        self._topic = topic
        self._serde = serde
        self.owner = owner

    async def running(self, link_id: str) -> None:
        await self._publish(link_id, LinkState.RUNNING)

    async def stopped(self, link_id: str, message: str) -> None:
        """The link stopped until its user acts; ``message`` says what to do."""
        await self._publish(link_id, LinkState.STOPPED, message)

    async def released(self, link_id: str) -> None:
        await self._publish(link_id, LinkState.RELEASED)

    async def forget(self, link_id: str) -> None:
        """Drop the status of a link that no longer exists."""
        await self._send(link_id, None)

    async def _publish(self, link_id: str, state: LinkState, message: str | None = None) -> None:
        record = LinkStatusRecord(
            link_id=link_id,
            state=state.value,
            owner=self.owner,
            updated_at_ms=time.time_ns() // 1_000_000,
            message=message,
        )
        await self._send(link_id, self._serde.encode(record.to_avro()))

    async def _send(self, link_id: str, value: bytes | None) -> None:
        delivery = await self._producer.send(self._topic, key=link_id.encode(), value=value)
        delivery.add_done_callback(lambda done: _log_failure(link_id, done))


def _log_failure(link_id: str, delivery: asyncio.Future[object]) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        logger.warning("link %s: status not published: %r", link_id, delivery.exception())

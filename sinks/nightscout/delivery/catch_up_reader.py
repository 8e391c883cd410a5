"""The second consumer: reads partitions again for the sites that catch up, each from its own
position, and hands them what they want.

It has no consumer group: it reads only partitions the sink's group assigned to this instance,
and only for sites whose lane is ready (not parked, not stopped) and has room. One read of a
partition serves every catch-up there; it starts at the lowest position among them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from nightstream.schemas.documents import NsRecord
from nightstream.schemas.fencing import PartitionOwnership
from nightstream.sinks.nightscout.delivery.catch_up import CatchUp
from nightstream.sinks.nightscout.delivery.deliveries import Delivery
from nightstream.sinks.nightscout.delivery.lane import SiteLane
from nightstream.sinks.nightscout.delivery.offset_progress import OffsetProgress
from nightstream.sinks.nightscout.delivery.site_routes import SiteRoutes

MAX_BATCH = 500
FEED_BELOW = 256
"""A catch-up feeds a lane only while fewer deliveries than this wait in it."""


@dataclass(frozen=True)
class CatchUpState:
    """The sink's state the reader works on (shared, not copied)."""

    catch_ups: dict[TopicPartition, list[CatchUp]]
    live: dict[TopicPartition, OffsetProgress]
    lanes: Mapping[str, SiteLane]
    routes: SiteRoutes
    ownership: PartitionOwnership
    accept: Callable[[NsRecord], bool] | None = None
    """When given, the only documents delivered (as for the live readers)."""


class CatchUpReader:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        state: CatchUpState,
        decode: Callable[[ConsumerRecord], Awaitable[NsRecord | None]],
        after_batch: Callable[[], None],
    ) -> None:
        self.consumer = consumer
        self._state = state
        self._decode = decode
        self._after_batch = after_batch
        self._read_from: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        self.read = 0

    def forget(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self._read_from.pop(tp, None)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            active = self._active()
            if not active:
                await asyncio.sleep(0.2)
                continue
            if set(active) != self._assigned:
                self._assigned = set(active)
                self.consumer.assign(sorted(self._assigned))
                self._read_from = {}
            for tp, catch_ups in active.items():
                want = min(c.read_next for c in catch_ups)
                if self._read_from.get(tp) != want:
                    self.consumer.seek(tp, want)
                    self._read_from[tp] = want
            batch = await self.consumer.getmany(
                *self._assigned, timeout_ms=200, max_records=MAX_BATCH
            )
            for tp in self._assigned:
                messages = batch.get(tp, [])
                start = self._read_from.get(tp)
                if start is None:
                    continue
                end = messages[-1].offset + 1 if messages else await self.consumer.position(tp)
                if end > start:
                    await self._feed(tp, start, end, messages)
                    self._read_from[tp] = end
            self._after_batch()

    def _active(self) -> dict[TopicPartition, list[CatchUp]]:
        now = time.monotonic()
        state = self._state
        active: dict[TopicPartition, list[CatchUp]] = {}
        for tp, catch_ups in state.catch_ups.items():
            if tp not in state.live or state.ownership.epoch(tp) is None:
                continue
            ready = [
                c
                for c in catch_ups
                if not c.reading_done
                and state.lanes[c.site].ready(now)
                and state.lanes[c.site].pending < FEED_BELOW
            ]
            if ready:
                active[tp] = ready
        return active

    def _accepts(self, record: NsRecord) -> bool:
        return self._state.accept is None or self._state.accept(record)

    async def _feed(
        self, tp: TopicPartition, start: int, end: int, messages: list[ConsumerRecord]
    ) -> None:
        """Records ``[start, end)`` of ``tp`` were read: hand them to the catch-ups there."""
        decoded = [(m, await self._decode(m)) for m in messages]
        state = self._state
        epoch = state.ownership.epoch(tp)
        if epoch is None:
            return
        now = time.monotonic()
        self.read += len(messages)
        for c in state.catch_ups.get(tp, []):
            lane = state.lanes[c.site]
            if not (start <= c.read_next < end) or c.reading_done or not lane.ready(now):
                continue
            wanted = c.streams if c.streams is not None else state.routes.streams_of(c.site)
            for message, record in decoded:
                if message.offset < c.read_next or (
                    c.until is not None and message.offset >= c.until
                ):
                    continue
                if record is not None and record.stream in wanted and self._accepts(record):
                    lane.offer(Delivery(record, tp, message.offset, epoch, c.progress))
                    c.progress.hand_out(message.offset, 1)
            c.advance(end)

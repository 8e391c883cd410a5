"""Which documents one target wants: the streams its links read, and their history when new.

A target receives the documents of every stream bound (on the bindings topic) to a link that
names it; nothing else. Routes change while the sink runs: a link is bound to its stream only
after its first payload, and a restart can bring a link added to the configuration. A stream
that joins the routes after the target's consumer group went past some of its documents gets
them by a rewind: the partition is read again from its beginning up to where the group was,
delivering only the newly routed streams there (the others were delivered the first time), and
once the group is back there, the coverage ``(topic, partition, stream)`` is recorded in the
target's changelog. A stream that leaves the routes loses its coverage, so routing it again
later brings its whole history again (the acknowledged hashes keep that from writing twice).

Everything here runs between two batches, never while one is being processed, so a rewind's
end (``until``) is exactly the first offset the group had not processed yet.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError

from nightstream.schemas.bindings import StreamBindings
from nightstream.sinks.nightscout.acked_table import AckedTable, Coverage

logger = logging.getLogger(__name__)

SYNC_EVERY_SECONDS = 2.0
"""How often the bindings are read again when every document was routed (a new binding can
only add a stream, whose documents then show up as unrouted and force a sync at once)."""


@dataclass(frozen=True)
class _Rewind:
    until: int
    streams: frozenset[str]
    epoch: int
    """The assignment it was planned in: a partition revoked meanwhile (even if given back at
    once) restarts from its committed offset, so the rewind is planned again from there."""


class StreamRoutes:
    def __init__(
        self,
        target: str,
        links: Callable[[], frozenset[str]],
        bindings: StreamBindings,
        acked: AckedTable,
    ) -> None:
        self._target = target
        self._links = links
        self._bindings = bindings
        self._acked = acked
        self.routed: frozenset[str] = frozenset()
        self._rewinds: dict[TopicPartition, _Rewind] = {}
        self._assigned: dict[TopicPartition, int] = {}
        self._unrouted_seen = True
        self._synced_at = -math.inf

    def wants(self, stream: str) -> bool:
        if stream in self.routed:
            return True
        self._unrouted_seen = True
        return False

    def is_reread(self, stream: str, topic: str, partition: int, offset: int) -> bool:
        """True for a covered stream's document read again by a rewind (delivered before)."""
        rewind = self._rewinds.get(TopicPartition(topic, partition))
        return rewind is not None and offset < rewind.until and stream not in rewind.streams

    @property
    def rewinding(self) -> bool:
        return bool(self._rewinds)

    async def refresh(
        self, consumer: AIOKafkaConsumer, assigned: dict[TopicPartition, int]
    ) -> None:
        """Between batches: follow new bindings and assignments (``assigned``: each owned
        partition with its assignment epoch), start and finish rewinds."""
        try:
            await self._refresh(consumer, assigned)
        except IllegalStateError as exc:
            # A rebalance took a partition meanwhile: the next refresh sees the new assignment.
            logger.info(
                "target %s: routes not refreshed during a rebalance (%s)", self._target, exc
            )
            self._assigned = {}

    async def _refresh(
        self, consumer: AIOKafkaConsumer, assigned: dict[TopicPartition, int]
    ) -> None:
        due = time.monotonic() - self._synced_at >= SYNC_EVERY_SECONDS
        if self._unrouted_seen or due or assigned != self._assigned:
            self._unrouted_seen = False
            self._synced_at = time.monotonic()
            await self._bindings.sync()
            links = self._links()
            routed = self._bindings.streams_of(links)
            if routed != self.routed:
                logger.info(
                    "target %s: %d stream(s) routed from %d link(s)",
                    self._target,
                    len(routed),
                    len(links),
                )
            self.routed = routed
            self._rewinds = {
                tp: r for tp, r in self._rewinds.items() if assigned.get(tp) == r.epoch
            }
            await self._plan(consumer, assigned)
            self._assigned = assigned
        await self._finish(consumer, assigned)

    async def _plan(self, consumer: AIOKafkaConsumer, assigned: dict[TopicPartition, int]) -> None:
        cover: list[Coverage] = []
        uncover: list[Coverage] = []
        for tp in sorted(assigned):
            covered = self._acked.covered_streams(tp.topic, tp.partition)
            uncover += [(tp.topic, tp.partition, s) for s in covered - self.routed]
            rewind = self._rewinds.get(tp)
            rewinding = rewind.streams if rewind is not None else frozenset()
            missing = self.routed - covered - rewinding
            if not missing:
                continue
            position = await consumer.position(tp)
            beginning = (await consumer.beginning_offsets([tp]))[tp]
            if position <= beginning:
                # The group has not gone past anything here: it reads the whole partition anyway.
                cover += [(tp.topic, tp.partition, s) for s in missing]
                continue
            until = max(position, rewind.until if rewind is not None else 0)
            self._rewinds[tp] = _Rewind(until, rewinding | missing, assigned[tp])
            await consumer.seek_to_beginning(tp)
            logger.info(
                "target %s: reading %s[%d] again up to offset %d for %d newly routed stream(s)",
                self._target,
                tp.topic,
                tp.partition,
                until,
                len(missing),
            )
        await self._acked.set_coverage(cover, uncover)

    async def _finish(
        self, consumer: AIOKafkaConsumer, assigned: dict[TopicPartition, int]
    ) -> None:
        done: list[Coverage] = []
        for tp, rewind in list(self._rewinds.items()):
            if assigned.get(tp) != rewind.epoch:
                continue  # revoked since: planned again at the next refresh
            if await consumer.position(tp) >= rewind.until:
                done += [(tp.topic, tp.partition, s) for s in rewind.streams if s in self.routed]
                del self._rewinds[tp]
        await self._acked.set_coverage(done, [])

"""The sink for many Nightscout sites: ``ns.*`` read once, each document sent to its sites.

One consumer group (``<prefix>-sink``) reads the document topics, which are partitioned by
stream (``schemas.stream_partitions``), and routes each document to the sites of its stream
(``SiteRoutes``). Kafka reads grow with documents, not with documents x sites.

Each site has a lane (``SiteLane``) that writes at the site's pace. The group commits, per
partition, the first offset some *live* site has not acknowledged yet (``OffsetProgress``).
A site that is not live in a partition is carried by a *catch-up* instead (``CatchUp``): it
has its own position, saved on the progress topic, and a second consumer (no group) reads the
partition for it from there. A site gets catch-ups when:

- it stops answering (parked, with backoff) or falls too far behind (shed): from its first
  unacknowledged document until it reaches the live readers, where it joins them again;
- a stream is routed to it that the live readers went past (a new link, a new site): that
  stream's history, from the partition's beginning up to where the live readers were;
- it stopped for good (a refused token): from where it stopped, when the sink starts again.

So one dead or slow site never holds the others back, and what the group commits never
skips what a site has not acknowledged: a site's catch-up is saved before the group moves
past the deliveries it gave back.

Fencing is as for every role (``nightstream.schemas.fencing``): each delivery carries the assignment
epoch of its partition, and a lane writes nothing for a partition this instance lost, nor
after the process stood still, until the group confirmed who owns what.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.bindings import StreamBindings
from nightstream.schemas.compacted import partitions_of
from nightstream.schemas.documents import NsRecord
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.fencing import LoopWatch, PartitionOwnership
from nightstream.schemas.hash_store import DAY_MS, LocalHashStore
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer, kafka_producer
from nightstream.schemas.offset_bounds import OffsetBounds
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.serde import make_serde
from nightstream.schemas.stream_partitions import stream_partition
from nightstream.schemas.topics import TopicNames
from nightstream.sinks.nightscout.delivery.catch_up import CatchUp
from nightstream.sinks.nightscout.delivery.catch_up_reader import CatchUpReader, CatchUpState
from nightstream.sinks.nightscout.delivery.deliveries import Delivery
from nightstream.sinks.nightscout.delivery.documents import DocumentTopics
from nightstream.sinks.nightscout.delivery.lane import SiteLane
from nightstream.sinks.nightscout.delivery.offset_progress import OffsetProgress
from nightstream.sinks.nightscout.delivery.progress_store import (
    Coverage,
    ProgressStore,
    SavedCatchUp,
)
from nightstream.sinks.nightscout.delivery.site_acks import SiteAcks
from nightstream.sinks.nightscout.delivery.site_routes import Route, SiteRoutes
from nightstream.sinks.nightscout.delivery.site_writer import SiteWriter

logger = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 15_000
MAX_BATCH = 500
LIVE_WINDOW = 4_000
"""Deliveries of one partition handed out and not yet answered, at most: beyond it the live
readers pause that partition (sites then do not queue more than they can take)."""
SHED_AFTER_SECONDS = 5.0
"""A partition paused this long by one site's backlog, while it carries other sites' streams
too, sheds that site to a catch-up: the others go on without it."""
SAVE_EVERY_SECONDS = 2.0
COMMIT_EVERY_SECONDS = 1.0
SUMMARY_EVERY_SECONDS = 60.0
PARK_BACKOFF = RetryPolicy(base=5.0, cap=300.0)
LANE_DRAIN_SECONDS = 6.0
"""On stop, how long the chunks being written may take to finish (a target's writes end within
its own drain time once the stop is asked, so this is rarely reached)."""
RecordFilter = Callable[[NsRecord], bool]
ATTEMPTS_IN_FLIGHT = 64
"""Requests in flight to all sites together. Without a limit, a burst for thousands of sites
(a start, a catch-up after an outage) opens thousands of connections and JWT exchanges at
once: one event-loop turn then runs for seconds, the loop watch takes that for a stopped
process and fences every write, and the sink delivers nothing."""


class AllSitesStopped(NightstreamError):
    """Every site this sink serves stopped for a reason only its user can fix."""


@dataclass(frozen=True)
class DeliveryConfig:
    bootstrap_servers: Brokers
    topic_prefix: str
    sites: Mapping[str, frozenset[str]]
    """Each site with the links of the file that name it."""
    group_id: str | None = None
    state_dir: Path | None = None
    acked_horizon_days: float = 35.0

    @property
    def consumer_group(self) -> str:
        return self.group_id or f"{self.topic_prefix}-sink"


class DeliverySink:
    def __init__(
        self,
        config: DeliveryConfig,
        writers: Mapping[str, SiteWriter],
        registry: SchemaRegistryClient | None = None,
        *,
        links_of_site: Callable[[str], frozenset[str]] | None = None,
        links_version: Callable[[], int] = lambda: 0,
        park_backoff: RetryPolicy = PARK_BACKOFF,
        accept: RecordFilter | None = None,
    ) -> None:
        """``accept``: when given, only the documents it accepts are delivered (a replay's
        date window); the others count as ``outside_window``."""
        self.config = config
        self._accept = accept
        self.names = TopicNames(config.topic_prefix)
        self._extra_links = links_of_site
        self._bindings = StreamBindings(
            config.bootstrap_servers,
            self.names.bindings,
            make_serde("stream_binding", subject=f"{self.names.bindings}-value", registry=registry),
        )
        self.routes = SiteRoutes(self._links_of_sites, self._bindings, links_version)
        self._ownership = PartitionOwnership(
            LoopWatch(frozen_after=SESSION_TIMEOUT_MS / 2000, quarantine=SESSION_TIMEOUT_MS / 1000),
            on_revoke=self._revoked,
            on_assign=self._assigned,
        )
        self._producer = kafka_producer(
            config.bootstrap_servers, acks="all", enable_idempotence=True
        )
        self._documents = DocumentTopics(self.names, self._producer, registry)
        self._acks = SiteAcks(
            LocalHashStore(
                config.bootstrap_servers,
                self.names.sink_acked,
                self._producer,
                state_dir=config.state_dir,
                horizon_ms=int(config.acked_horizon_days * DAY_MS),
                owner="sink",
            )
        )
        self._progress = ProgressStore(
            config.bootstrap_servers,
            self.names.sink_progress,
            self._producer,
            config.consumer_group,
        )
        self.lanes = {
            site: SiteLane(
                site,
                writers[site],
                self._acks,
                self._ownership,
                self._documents.reject,
                self._release,
                park_backoff,
            )
            for site in config.sites
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: CatchUpReader | None = None
        self._live: dict[TopicPartition, OffsetProgress] = {}
        self._beginning: dict[TopicPartition, int] = {}
        self._catch_ups: dict[TopicPartition, list[CatchUp]] = {}
        self._covered: dict[TopicPartition, set[tuple[str, str]]] = {}
        self._lagging: dict[str, set[TopicPartition]] = {site: set() for site in config.sites}
        self._skip_below: dict[tuple[str, TopicPartition], int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._to_plan: set[TopicPartition] = set()
        self._paused: dict[TopicPartition, float] = {}
        self._ready: set[TopicPartition] = set()
        """Assigned partitions whose answers and progress are restored."""
        self._saved_at = 0.0
        self._must_save = False
        self._summarised_at = time.monotonic()
        self._committed_at = 0.0
        self._unsaved: set[tuple[str, TopicPartition]] = set()
        self._newly_covered: list[Coverage] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._watching: asyncio.Task[None] | None = None
        self.read = 0
        self.unrouted = 0
        self.other_streams = 0
        """Documents read live whose stream no site reads."""
        self.outside_window = 0

    # -- wiring -------------------------------------------------------------------------------

    def _links_of_sites(self) -> dict[str, frozenset[str]]:
        extra = self._extra_links
        return {
            site: links | (extra(site) if extra is not None else frozenset())
            for site, links in self.config.sites.items()
        }

    async def start(self) -> None:
        acked = self.names.sink_acked
        self._acks.partitions = len(await partitions_of(self.config.bootstrap_servers, acked))
        if not self._acks.partitions:
            raise NightstreamError(
                f"the sink's topic {acked} does not exist: run `nightstream topics create` first"
            )
        await self._producer.start()
        await self._bindings.start()
        common = {
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": MAX_BATCH,
        }
        self._consumer = kafka_consumer(
            self.config.bootstrap_servers,
            group_id=self.config.consumer_group,
            metadata_max_age_ms=10_000,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=SESSION_TIMEOUT_MS // 5,
            # Partition p of every document topic to one instance: it restores p's answers.
            partition_assignment_strategy=(RangePartitionAssignor,),
            **common,
        )
        self._reader = CatchUpReader(
            kafka_consumer(self.config.bootstrap_servers, **common),
            CatchUpState(
                self._catch_ups, self._live, self.lanes, self.routes, self._ownership, self._accept
            ),
            self._documents.decode,
            self._finish_catch_ups,
        )
        self._consumer.subscribe(self._documents.topics, listener=self._ownership)
        self._watching = asyncio.create_task(self._ownership.watch.run())
        await self._consumer.start()
        await self._reader.consumer.start()
        logger.info(
            "sink started: group %s, %d site(s)", self.config.consumer_group, len(self.lanes)
        )

    async def stop(self) -> None:
        try:
            await self._stop_clients()
        finally:
            # Whatever failed above, the state directory is let go: the role starts again
            # after a Kafka error, and its next sink must be able to open the store.
            self._acks.store.close()

    async def _stop_clients(self) -> None:
        # The loop watch runs to the end: without its ticks every lease would look frozen.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(lane.aclose(LANE_DRAIN_SECONDS) for lane in self.lanes.values()))
        with contextlib.suppress(KafkaError):
            await self._save(everything=True)
            await self._commit(force=True)
        if self._watching is not None:
            self._watching.cancel()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._reader is not None:
            await self._reader.consumer.stop()
        await self._bindings.stop()
        await self._producer.stop()

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, until: OffsetBounds | None = None) -> bool:
        """Deliver until ``stop`` is set (then False) or, given ``until``, until every
        document up to its end offsets was answered and committed (then True)."""
        assert self._consumer is not None, "start() first"
        assert self._reader is not None
        catching_up = asyncio.create_task(self._reader.run(stop))
        self._tasks.append(catching_up)
        while not stop.is_set():
            if catching_up.done():
                catching_up.result()  # its error ends the role, rather than catch-ups silently
            await self._refresh()
            await self._hold_back()
            batch = await self._consumer.getmany(timeout_ms=200, max_records=MAX_BATCH)
            if batch:
                await self._dispatch(batch)
                # Let the lanes this batch woke take their first step before the next batch:
                # getmany returns buffered records without yielding, and 10,000 lanes woken in
                # one loop turn stall it for seconds (the loop watch then fences every write).
                await asyncio.sleep(0)
            await self._housekeeping()
            if all(lane.stopped for lane in self.lanes.values()) and self.lanes:
                raise AllSitesStopped(
                    "every site stopped: "
                    + "; ".join(f"{n}: {lane.stopped}" for n, lane in self.lanes.items())
                )
            if until is not None and await self._reached(until):
                return True
        return False

    async def _refresh(self) -> None:
        """Between batches: new partitions, new routes, and what they need caught up."""
        assert self._consumer is not None
        for tp in self._ownership.epochs():
            if tp not in self._live and tp in self._ready:
                try:
                    position = await self._consumer.position(tp)
                    beginning = (await self._consumer.beginning_offsets([tp]))[tp]
                except IllegalStateError:
                    continue  # taken away meanwhile
                self._live[tp] = OffsetProgress(position)
                self._beginning[tp] = beginning
                self._to_plan.add(tp)
        changes = await self.routes.refresh()
        if changes is not None:
            added, removed = changes
            await self._unroute(removed)
            if added:
                self._to_plan |= set(self._live)
        if self._to_plan:
            planning, self._to_plan = self._to_plan, set()
            await self._plan(planning & set(self._live))

    async def _plan(self, tps: set[TopicPartition]) -> None:
        """Catch-ups for what the live readers of ``tps`` will not bring: sites that are not
        live (parked or stopped), and streams whose history a site does not hold yet."""
        now = time.monotonic()
        covered = []
        not_live = [site for site, lane in self.lanes.items() if not lane.ready(now)]
        by_count: dict[int, dict[int | None, list[Route]]] = {}
        for tp in sorted(tps):
            live = self._live[tp]
            count = (
                len(self._consumer.partitions_for_topic(tp.topic) or ()) if self._consumer else 0
            )
            for site in not_live:
                self._lag(site, tp, live.next_offset)
            if count not in by_count:
                by_count[count] = self._routes_by_partition(count)
            for site, stream in by_count[count].get(tp.partition if count else None, []):
                if (site, stream) in self._covered.setdefault(tp, set()):
                    continue
                if any(
                    c.site == site and c.streams is not None and stream in c.streams
                    for c in self._catch_ups.get(tp, [])
                ):
                    continue
                if live.next_offset <= self._beginning[tp]:
                    self._covered[tp].add((site, stream))
                    covered.append((site, tp, stream))
                    continue
                self._catch_ups.setdefault(tp, []).append(
                    CatchUp.starting(
                        site, tp, self._beginning[tp], live.next_offset, frozenset({stream})
                    )
                )
                self._unsaved.add((site, tp))
                self._must_save = True
                logger.info(
                    "target %s: reading %s[%d] from its beginning for a newly routed stream",
                    site,
                    tp.topic,
                    tp.partition,
                )
        await self._progress.set_covered(covered, [])
        await self._save(everything=bool(self._unsaved))

    def _routes_by_partition(self, count: int) -> dict[int | None, list[Route]]:
        """Every ``(site, stream)`` route by the partition of ``count`` its stream lives in
        (all under None when the count is unknown). Once per plan, not once per partition:
        with 10,000 sites a hash per stream and partition stalled the loop for seconds."""
        by_partition: dict[int | None, list[Route]] = {}
        for site in self.lanes:
            for stream in self.routes.streams_of(site):
                partition = stream_partition(stream, count) if count else None
                by_partition.setdefault(partition, []).append((site, stream))
        return by_partition

    async def _unroute(self, removed: set[Route]) -> None:
        if not removed:
            return
        uncover = []
        for tp, covered in self._covered.items():
            for site, stream in removed:
                if (site, stream) in covered:
                    covered.discard((site, stream))
                    uncover.append((site, tp, stream))
        for tp, catch_ups in self._catch_ups.items():
            for c in catch_ups:
                if c.streams is not None and c.streams & {
                    s for site, s in removed if site == c.site
                }:
                    c.streams = c.streams - {s for site, s in removed if site == c.site}
                    self._unsaved.add((c.site, tp))
            self._catch_ups[tp] = [c for c in catch_ups if c.streams is None or c.streams]
        await self._progress.set_covered([], uncover)

    def _lag(self, site: str, tp: TopicPartition, start: int) -> None:
        """``site`` leaves the live readers of ``tp``: a catch-up carries it from ``start``."""
        lagging = self._lagging.setdefault(site, set())
        for c in self._catch_ups.get(tp, []):
            if c.site == site and c.follows_live:
                c.restart_from(start)
                break
        else:
            self._catch_ups.setdefault(tp, []).append(CatchUp.starting(site, tp, start))
        lagging.add(tp)
        self._skip_below.pop((site, tp), None)
        self._unsaved.add((site, tp))
        self._must_save = True  # before the group commits past ``start``

    async def _dispatch(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self._consumer is not None
        for tp in [tp for tp in batch if tp not in self._live]:
            # aiokafka fetches as soon as a partition is assigned, while its answers may still
            # be restoring and before the loop set it up: read again once it is.
            with contextlib.suppress(IllegalStateError):
                self._consumer.seek(tp, batch.pop(tp)[0].offset)
        decoded = {
            tp: [(m, await self._documents.decode(m, dead_letter=True)) for m in messages]
            for tp, messages in batch.items()
        }
        # Nothing below awaits until every record is handed out: catch-ups see it all or none.
        now = time.monotonic()
        for tp, items in decoded.items():
            epoch = self._ownership.epoch(tp)
            live = self._live.get(tp)
            if epoch is None:
                continue  # taken away meanwhile: its new owner reads it
            if live is None:
                continue  # revoked meanwhile
            self.read += len(items)
            for message, record in items:
                copies = 0
                sites = self._sites_for(record)
                if record is not None:
                    for site in sites:
                        if tp in self._lagging.get(site, ()):
                            continue
                        if message.offset < self._skip_below.get((site, tp), 0):
                            continue
                        lane = self.lanes[site]
                        if not lane.ready(now):
                            self._lag(site, tp, message.offset)  # caught up once it answers
                            continue
                        lane.offer(Delivery(record, tp, message.offset, epoch, live))
                        copies += 1
                    self.unrouted += copies == 0
                live.hand_out(message.offset, copies)

    def _sites_for(self, record: NsRecord | None) -> frozenset[str]:
        """The sites ``record`` goes to, counting what goes to none and why."""
        if record is None:
            return frozenset()  # undecodable: in the DLQ already
        sites = self.routes.sites_of(record.stream)
        if not sites:
            self.other_streams += 1
        elif self._accept is not None and not self._accept(record):
            self.outside_window += 1
            return frozenset()
        return sites

    @property
    def undecodable(self) -> int:
        """Records that could not be decoded (sent to the DLQ)."""
        return self._documents.undecodable

    @property
    def committed(self) -> Mapping[TopicPartition, int]:
        """The offsets the group committed, per partition of this instance."""
        return self._committed

    async def _reached(self, bounds: OffsetBounds) -> bool:
        """Every partition of ``bounds`` answered and committed up to its end offset."""
        assert self._consumer is not None
        if any(lane.pending for lane in self.lanes.values()):
            return False
        if bounds.reached(self._committed):
            return True
        for tp, end in bounds.end.items():
            live = self._live.get(tp)
            if end <= bounds.start[tp]:
                continue
            if live is None or self._catch_ups.get(tp) or live.unsettled:
                return False
            if live.next_offset < end:
                # Compaction can leave no record at the end of a partition: the consumer's
                # position then moves past the last record it returned.
                try:
                    position = await self._consumer.position(tp)
                except IllegalStateError:
                    return False
                if position <= live.next_offset:
                    return False
                live.hand_out(position - 1, 0)
        await self._commit(force=True)
        return bounds.reached(self._committed)

    @property
    def catch_up_read(self) -> int:
        """Records read by catch-ups."""
        return self._reader.read if self._reader is not None else 0

    def summary(self) -> str:
        """One line on where every site stands, for the log."""
        now = time.monotonic()
        stopped = sum(1 for lane in self.lanes.values() if lane.stopped)
        parked = sum(1 for lane in self.lanes.values() if not lane.ready(now)) - stopped
        behind = sum(
            1 for site, tps in self._lagging.items() if tps and self.lanes[site].ready(now)
        )
        written = sum(lane.stats.written for lane in self.lanes.values())
        unchanged = sum(lane.stats.skipped_unchanged for lane in self.lanes.values())
        return (
            f"sink: {len(self.lanes)} site(s), {parked} parked, {stopped} stopped, "
            f"{behind} catching up; {self.read} document(s) read live and "
            f"{self.catch_up_read} by catch-ups; {written} written, {unchanged} unchanged"
        )

    async def _hold_back(self) -> None:
        """Pause the partitions whose sites have enough to do; shed a site that keeps one
        paused for the others."""
        assert self._consumer is not None
        now = time.monotonic()
        full = {tp for tp, live in self._live.items() if live.unsettled >= LIVE_WINDOW}
        for tp in set(self._paused) - full:
            del self._paused[tp]
        for tp in full:
            self._paused.setdefault(tp, now)
        assigned = self._consumer.assignment()
        self._consumer.pause(*(full & assigned))
        self._consumer.resume(*(assigned - full))
        for tp, since in list(self._paused.items()):
            if now - since >= SHED_AFTER_SECONDS:
                await self._shed_slowest(tp)
                self._paused[tp] = now

    async def _shed_slowest(self, tp: TopicPartition) -> None:
        waiting = {
            site: sum(1 for d in lane.queue if d.tp == tp)
            for site, lane in self.lanes.items()
            if lane.queue
        }
        slowest = max(waiting, key=lambda site: waiting[site], default=None)
        if slowest is None or not waiting[slowest]:
            return
        count = len(self._consumer.partitions_for_topic(tp.topic) or ()) if self._consumer else 0
        others = {
            site
            for site in self.lanes
            if site != slowest
            and any(
                not count or stream_partition(s, count) == tp.partition
                for s in self.routes.streams_of(site)
            )
        }
        if others:
            await self.lanes[slowest].shed(
                f"{waiting[slowest]} documents wait in {tp.topic}[{tp.partition}], which "
                f"{len(others)} other site(s) read too"
            )

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._summarised_at >= SUMMARY_EVERY_SECONDS:
            self._summarised_at = now
            logger.info("%s", self.summary())
        self._finish_catch_ups()
        await self._save()
        await self._commit()

    def _finish_catch_ups(self) -> None:
        for tp, catch_ups in self._catch_ups.items():
            live = self._live.get(tp)
            for c in catch_ups:
                if self.lanes[c.site].stopped:
                    continue  # it stays where it stopped, for the next start
                if live is not None and c.follows_live and c.read_next >= live.next_offset:
                    self._skip_below[(c.site, tp)] = c.hand_over()
                    self._lagging.get(c.site, set()).discard(tp)
                    self._unsaved.add((c.site, tp))
                    logger.info(
                        "target %s: caught up on %s[%d]; back with the live readers",
                        c.site,
                        tp.topic,
                        tp.partition,
                    )
            done = [c for c in catch_ups if c.finished]
            if done:
                self._catch_ups[tp] = [c for c in catch_ups if not c.finished]
                for c in done:
                    self._unsaved.add((c.site, tp))
                    for stream in c.streams or ():
                        self._covered.setdefault(tp, set()).add((c.site, stream))
                        self._newly_covered.append((c.site, tp, stream))

    async def _save(self, *, everything: bool = False) -> None:
        now = time.monotonic()
        due = self._must_save or now - self._saved_at >= SAVE_EVERY_SECONDS
        if not (everything or due):
            return
        self._saved_at = now
        self._must_save = False
        pairs = set(self._unsaved)
        pairs |= {(c.site, tp) for tp, cs in self._catch_ups.items() for c in cs}
        self._unsaved.clear()
        entries = [
            (site, tp, [c.saved() for c in self._catch_ups.get(tp, []) if c.site == site])
            for site, tp in sorted(pairs)
            if tp in self._live
        ]
        await self._progress.save_catch_ups(entries)
        covered, self._newly_covered = self._newly_covered, []
        await self._progress.set_covered(covered, [])

    async def _commit(self, *, force: bool = False) -> None:
        if self._consumer is None:
            return  # stopped after a start that failed early
        now = time.monotonic()
        if not force and now - self._committed_at < COMMIT_EVERY_SECONDS:
            return
        self._committed_at = now
        if self._ownership.watch.quarantined():
            return
        offsets = {}
        for tp, live in self._live.items():
            point = live.point()
            if self._ownership.epoch(tp) is not None and point > self._committed.get(tp, -1):
                offsets[tp] = point
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            logger.info("sink: offsets not committed during a rebalance (%s)", type(exc).__name__)
            return
        self._committed.update(offsets)

    # -- lanes giving deliveries back ---------------------------------------------------------

    async def _release(self, lane: SiteLane, waiting: list[Delivery]) -> None:
        """``lane`` gave ``waiting`` back (parked, shed or stopped): its catch-ups start from
        the first of them; only once they are saved may the group move past them."""
        site = lane.name
        first_live: dict[TopicPartition, int] = {}
        first_of: dict[int, int] = {}
        for d in waiting:
            if d.progress is self._live.get(d.tp):
                first_live[d.tp] = min(first_live.get(d.tp, d.offset), d.offset)
            else:
                first_of[id(d.progress)] = min(first_of.get(id(d.progress), d.offset), d.offset)
        for tp, catch_ups in self._catch_ups.items():
            for c in catch_ups:
                if c.site == site and id(c.progress) in first_of:
                    c.restart_from(first_of[id(c.progress)])
                    self._unsaved.add((site, tp))
        for tp, live in self._live.items():
            if tp in self._lagging.get(site, set()) and tp not in first_live:
                continue
            self._lag(site, tp, first_live.get(tp, live.next_offset))
        await self._save(everything=True)
        for d in waiting:
            if d.progress is self._live.get(d.tp):
                d.settle()

    # -- rebalances ---------------------------------------------------------------------------

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        await self._acks.store.assign(
            {self._acks.changelog_partition(tp.partition) for tp in assigned}
        )
        loaded = await self._progress.load(assigned)
        for tp, progress in loaded.items():
            self._covered[tp] = progress.covered
            self._catch_ups[tp] = [
                CatchUp.restored(site, tp, saved)
                for site, saved_list in progress.catch_ups.items()
                if site in self.lanes
                for saved in saved_list
            ]
            for c in self._catch_ups[tp]:
                if c.follows_live:
                    self._lagging.setdefault(c.site, set()).add(tp)
        self._ready |= assigned

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        with contextlib.suppress(KafkaError):
            await self._save(everything=True)
        self._ready -= revoked
        self._progress.forget(revoked)
        if self._reader is not None:
            self._reader.forget(revoked)
        for tp in revoked:
            self._live.pop(tp, None)
            self._catch_ups.pop(tp, None)
            self._covered.pop(tp, None)
            self._committed.pop(tp, None)
            self._paused.pop(tp, None)
            for lagging in self._lagging.values():
                lagging.discard(tp)
        self._skip_below = {k: v for k, v in self._skip_below.items() if k[1] not in revoked}
        home = self._acks.changelog_partition
        still = {home(tp.partition) for tp in self._ownership.epochs()}
        self._acks.store.revoke({home(tp.partition) for tp in revoked} - still)


__all__ = [
    "ATTEMPTS_IN_FLIGHT",
    "AllSitesStopped",
    "DeliveryConfig",
    "DeliverySink",
    "SavedCatchUp",
]

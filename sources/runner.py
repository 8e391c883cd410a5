"""The generic poller: every link of a process, one scheduler.

Each poll is fetch -> publish raw payloads -> save the cursor -> the link's next due time. The
links wait in one heap of due times (``sources.schedule``), not in a sleeping task each; a poll
is a task only while it runs, so a link between polls costs a heap entry and no CPU. First polls
(of the links a run starts with, and of each batch added while it runs) are spread by a phase
derived from each link's id: at the CPU's pace (``first_polls_per_second``), and over as long as
the vendor's host budget needs to serve them beside the other links' steady polls
(``sources.cold_start``), so neither a start nor a restart after an outage bursts, and one link
polls at once. Links can be added and removed while it runs.

Links fail alone: a link whose user must act stops with one message; a link whose vendor is down
retries with exponential backoff and jitter while the others go on. Kafka errors end the run
(``nightstream.roles.keep_running`` starts it again); a new run builds a fresh producer, reloads
the cursors and reopens the HTTP pools, while the links keep their vendor sessions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from aiokafka import AIOKafkaProducer

from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.records import PollCursor
from nightstream.schemas.serde import Serde, make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.sources.cold_start import (
    NewLink,
    VendorLoads,
    first_poll_requests,
    first_poll_windows_s,
)
from nightstream.sources.cursors import CursorStore
from nightstream.sources.http_pools import SharedPools
from nightstream.sources.poll_source import FetchResult, PollSource
from nightstream.sources.publisher import RawPublisher, raw_producer
from nightstream.sources.schedule import DueTimes, next_slot_ms, phase_ms

logger = logging.getLogger(__name__)

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


_NEVER_MS = 2**62


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class LinkState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"


@dataclass(slots=True)
class LinkStatus:
    state: LinkState = LinkState.RUNNING
    polls: int = 0
    payloads_published: int = 0
    retries: int = 0
    skipped_windows: int = 0
    message: str | None = None


@dataclass(frozen=True)
class PollerOptions:
    once: bool = False
    """Poll every link once (now, not at its phase), then end the run."""
    dry_run: bool = False
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base=5.0, cap=600.0))
    """Backoff after a failed poll, in real seconds (``max_elapsed`` is not used: data waits)."""
    clock_speed: float = 1.0
    """Clock milliseconds per real one: above 1 when the clock is accelerated (benchmarks,
    fault runs), so that waits between polls pass that much faster."""
    max_polls_in_flight: int = 256
    first_polls_per_second: float = 20.0
    """How fast first polls may come for the CPU's sake: n links start over at least n / this
    real seconds (at most one interval; the host budget may need longer)."""
    max_idle_wait_seconds: float = 5.0
    """The longest the scheduler sleeps at once (a new due time wakes it earlier)."""
    stop_grace_seconds: float = 3.0
    """How long polls in flight may finish after a stop before they are cancelled: less than
    the process's own grace (``nightstream.interruptible``), so that the poller still closes
    its producer and connections itself when a vendor is slow to answer."""


class PollObserver(Protocol):
    def poll_started(self, link_id: str, due_ms: int, now_ms: int) -> None: ...


@dataclass(slots=True)
class _Link:
    source: PollSource
    interval_ms: int
    due_ms: int = 0
    """When the clock should read at the link's next poll (for the observer)."""
    failures: int = 0
    polling: asyncio.Task[None] | None = None
    removed: bool = False
    cursor_reload: asyncio.Task[None] | None = None
    """Added while running: its cursor is read again (another instance may have polled it)
    before its first poll."""


class Poller:
    def __init__(
        self,
        *,
        bootstrap_servers: Brokers,
        names: TopicNames,
        raw_serdes: Mapping[str, Serde],
        cursors: CursorStore,
        sources: Sequence[PollSource],
        options: PollerOptions = PollerOptions(),
        clock: Clock = wall_clock_ms,
        dead_letter_serde: Serde | None = None,
        pools: SharedPools | None = None,
        observer: PollObserver | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._names = names
        self._raw_serdes = raw_serdes
        self._cursors = cursors
        self._options = options
        self._clock = clock
        self._dlq_serde = dead_letter_serde or make_serde(
            "dead_letter", subject=f"{names.dlq}-value", registry=None
        )
        self.pools = pools or SharedPools()
        self.observer = observer
        self.status: dict[str, LinkStatus] = {}
        self._links: dict[str, _Link] = {}
        self._due = DueTimes()
        self._loads = VendorLoads()
        self._unscheduled: list[_Link] = []
        """Links whose first poll is not planned yet: planned together, as one batch."""
        self._reload_cursors_of_new_links = False
        self._cursor_reloads: set[asyncio.Task[None]] = set()
        self._polling: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._sleeping_until_ms: int | None = None
        self._running = False
        self._failure: BaseException | None = None
        self._producer: AIOKafkaProducer | None = None
        self._publisher: RawPublisher | None = None
        for source in sources:
            self.add_link(source)

    # links at run time

    def add_link(self, source: PollSource) -> None:
        """Serve ``source`` from now on; while running, its first poll comes at its phase."""
        if source.link_id in self._links:
            raise ValueError(f"link {source.link_id} is served already")
        interval_ms = max(int(source.poll_interval_seconds * 1000), 1)
        link = _Link(source, interval_ms)
        self._links[source.link_id] = link
        self._loads.add(source.vendor, interval_ms / 1000)
        self.status[source.link_id] = LinkStatus()
        if self._running:
            self._unscheduled.append(link)
            self._wake.set()
            self._reload_cursors_of_new_links = True

    async def remove_link(self, link_id: str) -> None:
        """Stop serving ``link_id``: a poll in flight ends first (its cursor saved), then none."""
        link = self._links.pop(link_id, None)
        if link is None:
            return
        link.removed = True
        self._loads.remove(link.source.vendor, link.interval_ms / 1000)
        self._due.discard(link_id)
        if link.polling is not None:
            await asyncio.wait({link.polling})
        self.status.pop(link_id, None)
        await link.source.aclose()
        self._wake.set()

    @property
    def link_ids(self) -> list[str]:
        return list(self._links)

    @property
    def scheduled_count(self) -> int:
        """Links with a due time or a poll in flight."""
        return len(self._due) + len(self._polling)

    # the run

    async def run(self, stop: asyncio.Event) -> None:
        if not self._options.dry_run:
            await self._cursors.load()
            self._producer = raw_producer(self._bootstrap)
            await self._producer.start()
            self._publisher = RawPublisher(
                producer=self._producer,
                names=self._names,
                raw_serdes=self._raw_serdes,
                dead_letter_serde=self._dlq_serde,
                cursors=self._cursors,
                clock=self._clock,
            )
        self._failure = None
        self._running = True
        relay = asyncio.create_task(_relay(stop, self._wake))
        try:
            # Every cursor was just loaded: links added before the run need no reload.
            self._unscheduled = list(self._links.values())
            self._reload_cursors_of_new_links = False
            for link in self._unscheduled:
                link.cursor_reload = None
            await self._schedule_loop(stop)
        finally:
            self._running = False
            relay.cancel()
            await self._end_polls()
            for reload in list(self._cursor_reloads):
                reload.cancel()
            self._due = DueTimes()
            self._unscheduled = []
            await self.pools.close_pools()
            if self._producer is not None:
                await self._producer.stop()
                self._producer = self._publisher = None
        if self._failure is not None:
            raise self._failure

    def _schedule_new_links(self) -> None:
        batch = [link for link in self._unscheduled if not link.removed]
        self._unscheduled = []
        if not batch:
            return
        if self._reload_cursors_of_new_links and not self._options.dry_run:
            ids = [link.source.link_id for link in batch]
            reload = asyncio.create_task(self._cursors.reload(ids))
            self._cursor_reloads.add(reload)
            reload.add_done_callback(self._cursor_reloads.discard)
            for link in batch:
                link.cursor_reload = reload
        self._reload_cursors_of_new_links = False
        now_ms = self._clock()
        speed = self._options.clock_speed
        # Clock seconds: the budget is in real time, intervals and phases in clock time.
        budget_windows_s = first_poll_windows_s(
            (NewLink(link.source.vendor, first_poll_requests(link.source)) for link in batch),
            self._loads,
            lambda vendor: self.pools.budget_of(vendor).requests_per_second / speed,
        )
        cpu_window_s = len(batch) / self._options.first_polls_per_second * speed
        for link in batch:
            window_s = max(
                min(cpu_window_s, link.interval_ms / 1000), budget_windows_s[link.source.vendor]
            )
            self._schedule_first(link, now_ms, max(int(window_s * 1000), 1))

    def _schedule_first(self, link: _Link, now_ms: int, window_ms: int) -> None:
        status = self.status[link.source.link_id]
        if status.state is LinkState.STOPPED:
            return
        status.state = LinkState.RUNNING
        if self._options.once:
            self._schedule(link, now_ms, now_ms)
            return
        phase = phase_ms(link.source.link_id, window_ms)
        self._schedule(link, now_ms, next_slot_ms(now_ms, phase, window_ms))

    def _schedule(self, link: _Link, now_ms: int, due_ms: int) -> None:
        """Poll ``link`` when the clock reads ``due_ms``.

        The heap holds monotonic real time, the wait divided by the clock's speed: a clock that
        stands still (a test's) or jumps does not stall or burst the waits.
        """
        if link.removed or not self._running:
            return
        link.due_ms = due_ms
        due_real_ms = _monotonic_ms() + int(max(due_ms - now_ms, 0) / self._options.clock_speed)
        self._due.schedule(link.source.link_id, due_real_ms)
        if self._sleeping_until_ms is not None and due_real_ms < self._sleeping_until_ms:
            self._wake.set()

    async def _schedule_loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        cap = self._options.max_polls_in_flight
        while not stop.is_set() and self._failure is None:
            self._schedule_new_links()
            if self._options.once and not self._due and not self._polling:
                return
            now = _monotonic_ms()
            while len(self._polling) < cap:
                due = self._due.pop_due(now)
                if due is None:
                    break
                self._start_poll(self._links[due[0]])
            next_due = self._due.next_due_ms()
            wait_s = self._options.max_idle_wait_seconds
            if next_due is not None and len(self._polling) < cap:
                wait_s = min(wait_s, (next_due - _monotonic_ms()) / 1000)
            self._sleeping_until_ms = _NEVER_MS if next_due is None else next_due
            self._wake.clear()
            timer = loop.call_later(max(wait_s, 0.0), self._wake.set)
            await self._wake.wait()
            timer.cancel()
            self._sleeping_until_ms = None

    def _start_poll(self, link: _Link) -> None:
        if self.observer is not None:
            self.observer.poll_started(link.source.link_id, link.due_ms, self._clock())
        task = asyncio.create_task(self._poll(link))
        link.polling = task
        self._polling.add(task)
        task.add_done_callback(lambda done: self._poll_ended(link, done))

    def _poll_ended(self, link: _Link, task: asyncio.Task[None]) -> None:
        self._polling.discard(task)
        if link.polling is task:
            link.polling = None
        self._wake.set()

    async def _poll(self, link: _Link) -> None:
        source, status = link.source, self.status[link.source.link_id]
        try:
            if link.cursor_reload is not None:
                await asyncio.shield(link.cursor_reload)
                link.cursor_reload = None
        except Exception as exc:  # Kafka is gone: the role starts again
            self._fail(exc)
            return
        cursor = self._cursors.get(source.link_id)
        try:
            result = await source.fetch(cursor, self._clock())
        except LinkFatalError as exc:
            status.state = LinkState.STOPPED
            status.message = exc.user_message
            logger.error("link %s stopped: %s", source.link_id, exc.user_message)
            return
        except RetriableError as exc:
            status.retries += 1
            delay_ms = self._retry_delay_ms(link, exc.retry_after)
            logger.warning("link %s: %s; retrying in %.0f s", source.link_id, exc, delay_ms / 1000)
            now = self._clock()
            self._schedule(link, now, now + delay_ms)
            return
        except Exception as exc:  # a bug: end the run loudly rather than lose it
            self._fail(exc)
            return
        link.failures = 0
        status.polls += 1
        try:
            await self._publish(source, cursor, result, status)
        except Exception as exc:  # Kafka is gone: the role starts again
            self._fail(exc)
            return
        if self._options.once:
            status.state = LinkState.DONE
            return
        now = self._clock()
        wait_s = source.seconds_until_next_poll(self._cursors.get(source.link_id), now)
        self._schedule(link, now, now + int(wait_s * 1000))

    def _retry_delay_ms(self, link: _Link, retry_after: float | None) -> int:
        """Backoff (real seconds, so scaled to the clock) or the vendor's own wait, the longer."""
        backoff_s = self._options.retry.delay(link.failures) * self._options.clock_speed
        link.failures += 1
        return int(max(backoff_s, retry_after or 0.0) * 1000)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._wake.set()

    async def _end_polls(self) -> None:
        if not self._polling:
            return
        _done, pending = await asyncio.wait(
            set(self._polling), timeout=self._options.stop_grace_seconds
        )
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _publish(
        self,
        source: PollSource,
        cursor: PollCursor | None,
        result: FetchResult,
        status: LinkStatus,
    ) -> None:
        if self._options.dry_run:
            for payload in result.payloads:
                logger.info(
                    "dry run: link %s %s HTTP %d, %d bytes (not published)",
                    source.link_id,
                    payload.endpoint,
                    payload.http_status,
                    len(payload.body),
                )
            status.payloads_published += len(result.payloads)
            return
        assert self._publisher is not None
        published = await self._publisher.publish(source.link_id, source.vendor, cursor, result)
        status.payloads_published += published.payloads
        status.skipped_windows += published.skipped


async def _relay(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()

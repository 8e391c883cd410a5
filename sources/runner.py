"""The generic poller: for each link, fetch -> publish raw payloads -> save the cursor -> wait.

Links run side by side and fail alone: a link whose user must act stops with one message; a
link whose vendor is down retries with exponential backoff and jitter while the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from aiokafka import AIOKafkaProducer

from schemas.backoff import Backoff, RetryPolicy
from schemas.errors import LinkFatalError, RetriableError
from schemas.records import PollCursor
from schemas.serde import Serde, make_serde
from schemas.topics import TopicNames
from sources.cursors import CursorStore
from sources.poll_source import FetchResult, PollSource
from sources.publisher import RawPublisher, raw_producer

logger = logging.getLogger(__name__)

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class LinkState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"


@dataclass
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
    dry_run: bool = False
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base=5.0, cap=600.0))


class Poller:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        names: TopicNames,
        raw_serdes: Mapping[str, Serde],
        cursors: CursorStore,
        sources: Sequence[PollSource],
        options: PollerOptions = PollerOptions(),
        clock: Clock = wall_clock_ms,
        dead_letter_serde: Serde | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._names = names
        self._raw_serdes = raw_serdes
        self._cursors = cursors
        self._sources = list(sources)
        self._options = options
        self._clock = clock
        self.status: dict[str, LinkStatus] = {s.link_id: LinkStatus() for s in sources}
        self._dlq_serde = dead_letter_serde or make_serde(
            "dead_letter", subject=f"{names.dlq}-value", registry=None
        )
        self._producer: AIOKafkaProducer | None = None
        self._publisher: RawPublisher | None = None

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
        try:
            await asyncio.gather(*(self._run_link(source, stop) for source in self._sources))
        finally:
            for source in self._sources:
                await source.aclose()
            if self._producer is not None:
                await self._producer.stop()

    async def _run_link(self, source: PollSource, stop: asyncio.Event) -> None:
        status = self.status[source.link_id]
        backoff = Backoff(self._options.retry)
        while not stop.is_set():
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
                delay = backoff.next_delay(exc.retry_after)
                logger.warning("link %s: %s; retrying in %.0f s", source.link_id, exc, delay or 0.0)
                if await _sleep_or_stop(stop, delay or 0.0):
                    return
                continue
            backoff = Backoff(self._options.retry)
            status.polls += 1
            await self._publish(source, cursor, result)
            status.payloads_published += len(result.payloads)
            if self._options.once:
                status.state = LinkState.DONE
                return
            wait = source.seconds_until_next_poll(self._cursors.get(source.link_id), self._clock())
            if await _sleep_or_stop(stop, wait):
                return
        status.state = LinkState.DONE

    async def _publish(
        self, source: PollSource, cursor: PollCursor | None, result: FetchResult
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
            return
        assert self._publisher is not None
        published = await self._publisher.publish(source.link_id, source.vendor, cursor, result)
        self.status[source.link_id].skipped_windows += published.skipped


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return True

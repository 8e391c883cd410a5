"""``nightstream replay``: one link's history from the ``ns.*`` topics into a Nightscout site.

A replay is a sink of its own for (link, site): its consumer group and its acknowledged-hashes
changelog are named after the link and a digest of the site's URL, so running the same command
again continues where the last run stopped, and documents the site already holds are skipped.
A ``--since``/``--until`` window gets a consumer group of its own (a narrower run must not
commit past documents a wider one still has to write) but shares the acknowledged hashes.

The run is finite: it stops once it has consumed every partition up to the end offsets it saw
when it started. Offsets are committed only after the site answered, so a killed replay loses
nothing; an interrupted one (Ctrl-C) finishes its batch if the site answers within a few
seconds, commits it and stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

from nightstream.config import KafkaSettings
from nightstream.kafka_security import kafka_access, schema_registry_client
from nightstream.progress import Progress, showing
from nightstream.schemas.documents import Collection
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.offset_bounds import OffsetBounds, capture_bounds
from nightstream.schemas.topics import TopicNames
from nightstream.sinks.nightscout.client import (
    NightscoutClient,
    NightscoutTargetConfig,
    WriteStopped,
)
from nightstream.sinks.nightscout.date_window import DateWindow
from nightstream.sinks.nightscout.sink import SinkConfig, SinkStats, TargetSink, client_writer

# As in the configuration: the link id becomes part of a topic name.
_LINK_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class ReplayPlan:
    link: str
    target: NightscoutTargetConfig
    window: DateWindow
    sink_name: str
    """Names the acknowledged-hashes changelog: one per (link, site)."""
    group_id: str
    """One per (link, site, window)."""


def site_key(url: str) -> str:
    """12 hex of sha256 over the URL without trailing slash, scheme and host in lower case."""
    parts = urlsplit(url.strip())
    normal = urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", "")
    )
    return hashlib.sha256(normal.encode()).hexdigest()[:12]


def plan_replay(
    prefix: str, link: str, target: NightscoutTargetConfig, window: DateWindow
) -> ReplayPlan:
    if not _LINK_ID.match(link):
        raise ValueError(f"{link!r} is not a link id (lower-case letters, digits, '.', '_', '-')")
    name = f"replay-{link}-{site_key(target.base_url)}"
    group = f"{prefix}-{name}"
    if not window.unbounded:
        bounds = f"{window.since_ms}..{window.until_ms}"
        group += "-" + hashlib.sha256(bounds.encode()).hexdigest()[:8]
    return ReplayPlan(link, target, window, name, group)


@dataclass
class ReplayReport:
    plan: ReplayPlan
    total: int
    done: int
    complete: bool
    stats: SinkStats = field(default_factory=SinkStats)
    abandoned: bool = False
    """The stop came mid-batch and the site did not answer within the drain."""

    def lines(self) -> list[str]:
        plan, stats = self.plan, self.stats
        state = "complete" if self.complete else "interrupted: run the same command to continue"
        by_collection = ", ".join(
            f"{c.value} {stats.by_collection[c.value]}"
            for c in Collection
            if stats.by_collection.get(c.value)
        )
        rows = [
            ("records read", f"{self.done} of {self.total} (consumer group {plan.group_id})"),
            ("written", f"{stats.written}" + (f" ({by_collection})" if by_collection else "")),
            ("skipped, unchanged", str(stats.skipped_unchanged + stats.superseded)),
            ("deleted by the user", str(stats.deleted_by_user + stats.skipped_deleted)),
            ("to the DLQ", str(stats.dead_lettered)),
            ("outside the window", str(stats.outside_window)),
            ("other streams", str(stats.skipped_other_streams)),
        ]
        if self.abandoned:
            rows.append(
                (
                    "in flight at the stop",
                    "one batch, unanswered within the drain: the site may hold it already; "
                    "the next run writes it again",
                )
            )
        width = max(len(label) for label, _ in rows)
        head = (
            f"replay of link {plan.link} into {plan.target.base_url} "
            f"({plan.window.describe()}): {state}"
        )
        return [head] + [f"  {label.ljust(width)}  {value}" for label, value in rows]


async def replay(
    kafka: KafkaSettings, plan: ReplayPlan, stop: asyncio.Event, progress_to: TextIO
) -> ReplayReport:
    """Run ``plan`` until it consumed what the topics held at the start, or ``stop``."""
    await require_reachable(plan.target)
    names = TopicNames(kafka.topic_prefix)
    topics = [names.ns(c) for c in Collection]
    bounds = await capture_bounds(kafka_access(kafka), topics, plan.group_id)
    if bounds.missing_topics:
        raise NightstreamError(
            f"topic(s) {', '.join(bounds.missing_topics)} do not exist: check "
            "kafka.topic_prefix, or run `nightstream topics create` and the processor first"
        )
    report = ReplayReport(plan, bounds.total, 0, complete=bounds.total == 0)
    async with NightscoutClient(plan.target, stop) as client:
        if report.complete:
            # A token the site refuses, or one without write permission, stops the run here.
            await client.self_test()
            return report
        sink = _sink(kafka, plan, client)
        report.stats = sink.stats
        try:
            # Both take a few round trips; neither commits anything.
            await _together(client.self_test(), sink.start())
            async with showing(Progress(bounds.total, progress_to), _done(bounds, sink)):
                try:
                    report.complete = await sink.run(stop, until=bounds)
                except WriteStopped:  # stopped mid-batch: not committed
                    report.abandoned = True
        finally:
            report.done = bounds.done(sink.positions)
            await sink.stop()
    return report


async def require_reachable(target: NightscoutTargetConfig) -> None:
    """One request to the site: a replay does not start (and retry) against a site that does
    not answer at all, a wrong ``--to`` most likely. Any HTTP answer will do."""
    try:
        async with httpx.AsyncClient(
            timeout=target.connect_timeout, verify=target.verify_tls
        ) as http:
            await http.get(target.base_url)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise NightstreamError(
            f"cannot reach the Nightscout site at {target.base_url} ({reason}): check --to"
        ) from None


async def _together(*work: Awaitable[object]) -> None:
    """Run ``work`` concurrently; once all are over, raise the first failure if any."""
    for outcome in await asyncio.gather(*work, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


def _sink(kafka: KafkaSettings, plan: ReplayPlan, client: NightscoutClient) -> TargetSink:
    registry = schema_registry_client(kafka)
    return TargetSink(
        SinkConfig(
            bootstrap_servers=kafka_access(kafka),
            topic_prefix=kafka.topic_prefix,
            target=plan.sink_name,
            links=frozenset({plan.link}),
            group_id=plan.group_id,
            replication_factor=kafka.replication_factor,
        ),
        client_writer(client),
        registry,
        accept=None if plan.window.unbounded else plan.window.contains,
    )


def _done(bounds: OffsetBounds, sink: TargetSink) -> Callable[[], int]:
    return lambda: bounds.done(sink.positions)

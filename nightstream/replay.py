"""``nightstream replay``: one link's history from the ``ns.*`` topics into a Nightscout site.

A replay is the production sink (``DeliverySink``) serving one site, bounded: it stops once
every document the topics held when it started was answered by the site and committed. Its
own consumer group reads from where the last run stopped (the beginning, the first time); a
site that stops answering meanwhile is retried until it answers again or the run is stopped.

The site's answers live in the sink's shared answer store (``<prefix>.sink.acked``), under the
site's name: the name of the configured target with the same URL, else one derived from the
URL. So documents the site already holds are skipped, whether a replay or the running sink
wrote them, and a sink started later for that target does not write them again.

Its consumer group is named after the link and a digest of the site's URL, so running the same
command again continues where the last run stopped. A ``--since``/``--until`` window gets a
consumer group of its own (a narrower run must not commit past documents a wider one still has
to write) but shares the site's answers.

Offsets are committed only after the site answered, so a killed replay loses nothing; an
interrupted one (Ctrl-C) finishes the writes in hand if the site answers within a few seconds,
commits them and stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

from nightstream.config import KafkaSettings
from nightstream.kafka_security import kafka_access, schema_registry_client
from nightstream.progress import Progress, showing
from nightstream.schemas.documents import Collection
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.hash_store import DEFAULT_HORIZON_DAYS
from nightstream.schemas.offset_bounds import OffsetBounds, capture_bounds
from nightstream.schemas.topics import TopicNames
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.date_window import DateWindow
from nightstream.sinks.nightscout.delivery.delivery_sink import DeliveryConfig, DeliverySink
from nightstream.sinks.nightscout.delivery.site_writer import site_writer
from nightstream.sinks.nightscout.site_stats import SinkStats

# As in the configuration: the link id becomes part of a topic name.
_LINK_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class ReplayPlan:
    link: str
    target: NightscoutTargetConfig
    window: DateWindow
    site: str
    """The site's name in the sink's answer store: a configured target's, or from the URL."""
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
    prefix: str,
    link: str,
    target: NightscoutTargetConfig,
    window: DateWindow,
    configured: Mapping[str, str] | None = None,
) -> ReplayPlan:
    """``configured``: the targets of the configuration, name to URL."""
    if not _LINK_ID.match(link):
        raise ValueError(f"{link!r} is not a link id (lower-case letters, digits, '.', '_', '-')")
    key = site_key(target.base_url)
    same_site = sorted(name for name, url in (configured or {}).items() if site_key(url) == key)
    site = same_site[0] if same_site else f"replay-{key}"
    group = f"{prefix}-replay-{link}-{key}"
    if not window.unbounded:
        bounds = f"{window.since_ms}..{window.until_ms}"
        group += "-" + hashlib.sha256(bounds.encode()).hexdigest()[:8]
    return ReplayPlan(link, target, window, site, group)


@dataclass
class ReplayCounts:
    """What the replay's reader left out, beside what the site's lane did."""

    stats: SinkStats = field(default_factory=SinkStats)
    undecodable: int = 0
    outside_window: int = 0
    other_streams: int = 0
    unanswered_at_stop: int = 0


@dataclass
class ReplayReport:
    plan: ReplayPlan
    total: int
    done: int
    complete: bool
    counts: ReplayCounts = field(default_factory=ReplayCounts)

    def lines(self) -> list[str]:
        plan, counts, stats = self.plan, self.counts, self.counts.stats
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
            ("to the DLQ", str(stats.rejected + counts.undecodable)),
            ("outside the window", str(counts.outside_window)),
            ("other streams", str(counts.other_streams)),
        ]
        if counts.unanswered_at_stop:
            rows.append(
                (
                    "in flight at the stop",
                    f"{counts.unanswered_at_stop} document(s) unanswered within the drain: the "
                    "site may hold them already; the next run writes them again",
                )
            )
        width = max(len(label) for label, _ in rows)
        head = (
            f"replay of link {plan.link} into {plan.target.base_url} "
            f"({plan.window.describe()}): {state}"
        )
        return [head] + [f"  {label.ljust(width)}  {value}" for label, value in rows]


async def replay(
    kafka: KafkaSettings,
    plan: ReplayPlan,
    stop: asyncio.Event,
    progress_to: TextIO,
    *,
    acked_horizon_days: float = DEFAULT_HORIZON_DAYS,
) -> ReplayReport:
    """Run ``plan`` until it delivered what the topics held at the start, or ``stop``.
    ``acked_horizon_days``: as the sink's, since a replay shares its answer store."""
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
        sink = _sink(kafka, plan, client, acked_horizon_days)
        lane = sink.lanes[plan.site]
        report.counts.stats = lane.stats
        try:
            # Both take a few round trips; neither commits anything.
            await _together(client.self_test(), sink.start())
            async with showing(Progress(bounds.total, progress_to), _done(bounds, sink)):
                report.complete = await sink.run(stop, until=bounds)
        finally:
            await sink.stop()
            report.done = bounds.done(sink.committed)
            report.counts.undecodable = sink.undecodable
            report.counts.outside_window = sink.outside_window
            report.counts.other_streams = sink.other_streams
            report.counts.unanswered_at_stop = lane.unanswered_at_stop
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


def _sink(
    kafka: KafkaSettings, plan: ReplayPlan, client: NightscoutClient, horizon_days: float
) -> DeliverySink:
    return DeliverySink(
        DeliveryConfig(
            bootstrap_servers=kafka_access(kafka),
            topic_prefix=kafka.topic_prefix,
            sites={plan.site: frozenset({plan.link})},
            group_id=plan.group_id,
            acked_horizon_days=horizon_days,
        ),
        {plan.site: site_writer(client)},
        schema_registry_client(kafka),
        accept=None if plan.window.unbounded else plan.window.contains,
    )


def _done(bounds: OffsetBounds, sink: DeliverySink) -> Callable[[], int]:
    return lambda: bounds.done(sink.committed)

"""Wiring: build each role from the settings. The only place that knows every package."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import httpx
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError

from nightstream.config import LinkSettings, Settings, TargetSettings
from nightstream.interruptible import Cancelled, run_interruptibly
from nightstream.kafka_security import kafka_access, registry_access, schema_registry_client
from nightstream.long_lived import freeze_long_lived
from nightstream.schemas.backoff import Backoff, RetryPolicy
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.link_directory import LinkDirectory
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.delivery.delivery_sink import (
    ATTEMPTS_IN_FLIGHT,
    DeliveryConfig,
    DeliverySink,
)
from nightstream.sinks.nightscout.delivery.site_writer import site_writer
from nightstream.sinks.nightscout.delivery.start_check import check_sites, hold_lanes
from nightstream.sinks.nightscout.site_stats import SinkStats
from nightstream.sources.cursors import CursorStore
from nightstream.sources.dexcomshare.client import DexcomShareClient
from nightstream.sources.dexcomshare.poll_source import DexcomSharePollSource
from nightstream.sources.dexcomshare.servers import share_server
from nightstream.sources.http_pools import HostBudget, SharedPools
from nightstream.sources.librelinkup.client import LibreLinkUpClient
from nightstream.sources.librelinkup.hosts import llu_hosts
from nightstream.sources.librelinkup.poll_source import LibreLinkUpPollSource
from nightstream.sources.librelinkup.protocol import DEFAULT_VERSION
from nightstream.sources.poll_source import PollSource
from nightstream.sources.runner import Clock, Poller, PollerOptions, wall_clock_ms
from nightstream.sources.simclock import FunctionClock
from nightstream.sources.tandem.client import TandemSourceClient
from nightstream.sources.tandem.client import make_http_client as make_tandem_http_client
from nightstream.sources.tandem.poll_source import TandemPollSource
from nightstream.sources.tandem.protocol import tandem_hosts
from nightstream.streams.processor import Processor, ProcessorConfig, processor_role
from nightstream.streams.registry import TRANSFORMS

logger = logging.getLogger(__name__)

Role = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def schema_registry(settings: Settings) -> SchemaRegistryClient | None:
    return schema_registry_client(settings.kafka)


def build_processor(settings: Settings, *, app_id: str | None = None) -> Processor:
    """The processor over the configured vendors' raw topics (every vendor without links)."""
    kafka = settings.kafka
    config = ProcessorConfig(
        bootstrap_servers=kafka_access(kafka),
        topic_prefix=kafka.topic_prefix,
        partitions=kafka.partitions,
        replication_factor=kafka.replication_factor,
        schema_registry=registry_access(kafka),
        app_id=app_id,
        state_dir=settings.processor.state_dir,
        hash_horizon_ms=int(settings.processor.hash_horizon_days * 86_400_000),
    )
    # Every vendor, not only the file's: links added at run time may be of any of them.
    return Processor(config, {v: TRANSFORMS[v] for v in sorted(TRANSFORMS)})


def build_processor_role(settings: Settings) -> Role:
    return processor_role(build_processor(settings))


def _target_config(
    name: str, target: TargetSettings, *, park: bool = False
) -> NightscoutTargetConfig:
    return NightscoutTargetConfig(
        name=name,
        base_url=target.url,
        access_token=target.token.get_secret_value() if target.token else None,
        api_version=target.api_version,
        api_secret=target.api_secret.get_secret_value() if target.api_secret else None,
        max_concurrency=target.max_concurrency,
        request_timeout=target.timeout_seconds,
        retry=RetryPolicy(
            cap=min(target.max_retry_delay_seconds, target.park_after_seconds),
            max_elapsed=target.park_after_seconds if park else None,
        ),
    )


def link_directory(settings: Settings, registry: SchemaRegistryClient | None) -> LinkDirectory:
    """The links added at run time (``nightstream links``), followed as they change."""
    topic = TopicNames(settings.kafka.topic_prefix).links
    serde = make_serde("link", subject=f"{topic}-value", registry=registry)
    return LinkDirectory(kafka_access(settings.kafka), topic, serde)


SITES_LISTED = 20


def sink_group(settings: Settings, names: Sequence[str]) -> str:
    """One consumer group for every site; a sink started for some sites only has its own."""
    prefix = settings.kafka.topic_prefix
    if set(names) == set(settings.targets):
        return f"{prefix}-sink"
    return f"{prefix}-sink-" + "+".join(sorted(names))


def build_delivery_role(
    settings: Settings,
    names: Sequence[str],
    *,
    group_id: str | None = None,
    stats: Mapping[str, SinkStats] | None = None,
    observe: Callable[[DeliverySink], None] | None = None,
) -> Role:
    """One sink for the sites ``names``: reads the document topics once for all of them.
    A site that refuses the token stops alone, with one message. ``observe`` is given each
    sink the role builds (benchmarks read its counters)."""
    sites = {
        name: frozenset(link.id for link in settings.links if name in link.targets)
        for name in names
    }
    config = DeliveryConfig(
        bootstrap_servers=kafka_access(settings.kafka),
        topic_prefix=settings.kafka.topic_prefix,
        sites=sites,
        group_id=group_id or sink_group(settings, names),
        state_dir=settings.sink.state_dir,
        acked_horizon_days=settings.sink.acked_horizon_days,
    )

    async def run(stop: asyncio.Event) -> None:
        in_flight = asyncio.Semaphore(ATTEMPTS_IN_FLIGHT)
        clients = {
            name: NightscoutClient(
                _target_config(name, settings.targets[name], park=True),
                stop,
                shared_slots=in_flight,
            )
            for name in names
        }
        registry = schema_registry(settings)
        directory = link_directory(settings, registry)
        following = asyncio.create_task(directory.run(stop))
        sink = DeliverySink(
            config,
            {name: site_writer(client) for name, client in clients.items()},
            registry,
            links_of_site=directory.links_of,
            links_version=lambda: directory.version,
        )
        for name, given in (stats or {}).items():
            sink.lanes[name].stats = given
        if observe is not None:
            observe(sink)
        # Every site's token is checked while Kafka starts; each site writes once it passed.
        verdict = hold_lanes(sink.lanes)
        checks = {name: client.check_at_start for name, client in clients.items()}
        checking = asyncio.create_task(check_sites(checks, verdict))
        try:
            await asyncio.wait_for(directory.ready.wait(), timeout=60)
            await sink.start()
            freeze_long_lived()
            await sink.run(stop)
        finally:
            following.cancel()
            checking.cancel()
            await asyncio.gather(checking, return_exceptions=True)
            try:
                await sink.stop()
            finally:
                for client in clients.values():
                    await client.aclose()
            logger.info("%s", sink.summary())
            for name, lane in sink.lanes.items():
                # Every site's figures for a few; beyond that, those of sites in trouble.
                if len(sink.lanes) <= SITES_LISTED or lane.stopped or lane.parks:
                    logger.info("target %s: %s", name, lane.stats)

    return run


def links_role(
    settings: Settings, poller: Poller, instance_id: str | None, clock: Clock = wall_clock_ms
) -> Role:
    """The links added at run time (the links topic) that this poller instance owns, added to
    and removed from ``poller`` as the pollers' consumer group spreads them."""
    from nightstream.link_wiring import LinksRole

    build = functools.partial(build_poll_source, clock=clock, pools=poller.pools)
    return LinksRole(settings, poller, build, instance_id=instance_id).run


def vendor_budgets(settings: Settings) -> dict[str, HostBudget]:
    """Each vendor's host budget, as configured under ``[vendors.<vendor>]``."""
    return {
        vendor: HostBudget(budget.requests_per_second, budget.max_in_flight)
        for vendor, budget in settings.vendors
    }


def build_poll_source(
    link: LinkSettings, clock: Clock = wall_clock_ms, pools: SharedPools | None = None
) -> PollSource:
    """The link's poll source; over ``pools`` (a poller's, shared by its links) when given,
    else with an HTTP client of its own that ``aclose()`` closes."""
    # Per link only cookies and headers; connections, TLS and the host budget are shared.
    transport = None if pools is None else pools.for_vendor(link.vendor)
    http = None if transport is None else httpx.AsyncClient(transport=transport)
    if link.vendor == "dexcomshare":
        client = DexcomShareClient(
            link_id=link.id,
            server=share_server(link.region or "us", link.server_url),
            username=link.username,
            password=link.password.get_secret_value(),
            http=http,
        )
        return DexcomSharePollSource(client, poll_interval_seconds=link.poll_interval_seconds)
    if link.vendor == "librelinkup":
        llu = LibreLinkUpClient(
            link_id=link.id,
            email=link.username,
            password=link.password.get_secret_value(),
            region=link.region or "auto",
            hosts=llu_hosts(link.server_url),
            version=link.llu_version or DEFAULT_VERSION,
            clock=FunctionClock(clock),
            http=http,
        )
        return LibreLinkUpPollSource(
            llu, patient_id=link.patient_id, poll_interval_seconds=link.poll_interval_seconds
        )
    if link.vendor == "tandem":
        assert link.timezone is not None  # the settings require it for Tandem links
        tandem = TandemSourceClient(
            link_id=link.id,
            email=link.username,
            password=link.password.get_secret_value(),
            hosts=tandem_hosts(link.region, link.server_url, link.client_id),
            clock=FunctionClock(clock),
            http=None if transport is None else make_tandem_http_client(transport=transport),
        )
        return TandemPollSource(
            tandem,
            timezone=link.timezone,
            pump_serial=link.pump_serial,
            backfill_days=link.backfill_days,
            poll_interval_seconds=link.poll_interval_seconds,
        )
    raise NightstreamError(f"link {link.id}: vendor {link.vendor} has no poller yet")


def build_poller(
    settings: Settings,
    options: PollerOptions,
    link_ids: Sequence[str] | None = None,
    clock: Clock = wall_clock_ms,
    pools: SharedPools | None = None,
) -> Poller:
    """The poller of ``link_ids`` (default: every link); its links share ``pools`` (default:
    new pools with the configured budget per vendor host)."""
    kafka = settings.kafka
    pools = pools or SharedPools(vendor_budgets(settings))
    names = TopicNames(kafka.topic_prefix)
    wanted = None if link_ids is None else set(link_ids)
    links = [link for link in settings.links if wanted is None or link.id in wanted]
    registry = schema_registry(settings)
    return Poller(
        bootstrap_servers=kafka_access(kafka),
        names=names,
        # Every vendor: links added at run time may be of any of them.
        raw_serdes={
            vendor: make_serde(
                "raw_payload", subject=f"{names.raw(vendor)}-value", registry=registry
            )
            for vendor in TRANSFORMS
        },
        cursors=CursorStore(
            kafka_access(kafka),
            names.cursors,
            make_serde("poll_cursor", subject=f"{names.cursors}-value", registry=registry),
        ),
        sources=[build_poll_source(link, clock, pools) for link in links],
        options=options,
        clock=clock,
        pools=pools,
        dead_letter_serde=make_serde(
            "dead_letter", subject=f"{names.dlq}-value", registry=registry
        ),
    )


KAFKA_RETRY = RetryPolicy(base=1.0, cap=30.0)


async def keep_running(
    name: str, role: Role, stop: asyncio.Event, retry: RetryPolicy = KAFKA_RETRY
) -> None:
    """Run ``role``; when Kafka cannot be reached (a broker restarting, say), say so in one line
    and start the role again after a backoff. Nothing is lost: every role resumes from what it
    committed."""
    backoff = Backoff(retry)
    while not stop.is_set():
        try:
            await role(stop)
            return
        except (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError) as exc:
            if stop.is_set():
                # Cut off by the stop itself: nothing will be started again.
                logger.debug("%s: Kafka request cut off by the stop (%s)", name, exc)
                return
            delay = backoff.next_delay() or retry.cap
            logger.error(
                "%s: cannot reach Kafka (%s); starting again in %.0f s",
                name,
                type(exc).__name__,
                delay,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


async def _stopping_the_others(
    name: str, role: Role, stop: asyncio.Event, failures: list[Exception]
) -> None:
    """Run ``role``; when it fails, the other roles of the process are asked to stop as on
    SIGTERM (they finish and commit what is in hand) rather than cut off where they stand."""
    try:
        await keep_running(name, role, stop)
    except Exception as exc:
        failures.append(exc)
        stop.set()
        raise


def run_roles(roles: dict[str, Role]) -> None:
    """Run asyncio roles until they end or SIGINT/SIGTERM asks them to stop (within seconds:
    see ``nightstream.interruptible``). A role that fails stops the others, and its error is
    raised once they ended."""
    failures: list[Exception] = []

    async def all_roles(stop: asyncio.Event) -> None:
        await asyncio.gather(
            *(_stopping_the_others(name, role, stop, failures) for name, role in roles.items()),
            return_exceptions=True,
        )
        if failures:
            raise failures[0]

    try:
        run_interruptibly(all_roles)
    except Cancelled:
        logger.warning(
            "stopped at once: what was not yet acknowledged and committed is done again at "
            "the next start"
        )
        if failures:
            raise failures[0] from None


async def check_link_login(link: LinkSettings) -> tuple[bool, str]:
    source = build_poll_source(link)
    try:
        if isinstance(source, DexcomSharePollSource):
            verdict = await source.client.check_login()
            return verdict.ok, verdict.message
        if isinstance(source, LibreLinkUpPollSource | TandemPollSource):
            llu_verdict = await source.check_login()
            return llu_verdict.ok, llu_verdict.message
        raise NightstreamError(f"link {link.id}: no login check for {link.vendor}")
    finally:
        await source.aclose()

"""The ``nightstream`` command: every role, and the tools around them."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from nightstream.config import Settings, load_settings
from nightstream.config_errors import ConfigError
from nightstream.log_setup import LEVELS
from nightstream.schemas.errors import LinkFatalError, NightstreamError, TargetFatalError

if TYPE_CHECKING:
    from nightstream.schemas.kafka_access import Brokers
    from nightstream.schemas.topics import TopicSpec

F = TypeVar("F", bound=Callable[..., Any])

config_option: Callable[[F], F] = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML file (default: $NIGHTSTREAM_CONFIG; env vars override it).",
)


class UserError(click.ClickException):
    """A problem the user can fix: printed as one message, no traceback."""

    exit_code = 2


def _settings(config_file: Path | None) -> Settings:
    try:
        return load_settings(os.environ, config_file)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[f"nightstream.{param.name}"] = value


def logging_options(func: F) -> F:
    """``--log-level`` and ``--log-format``, over ``log_level``/``log_format`` of the settings."""
    level = click.option(
        "--log-level",
        type=click.Choice(LEVELS, case_sensitive=False),
        expose_value=False,
        callback=_remember,
        help="DEBUG, INFO, WARNING or ERROR, any case (default: log_level, NIGHTSTREAM_LOG_LEVEL).",
    )
    form = click.option(
        "--log-format",
        type=click.Choice(["text", "json"], case_sensitive=False),
        expose_value=False,
        callback=_remember,
        help="text, or json: one object per line (default: log_format, NIGHTSTREAM_LOG_FORMAT).",
    )
    return level(form(func))


def _setup_logging(settings: Settings, *, progress_line: bool = False) -> None:
    """Log as the settings and the options say; ``progress_line``: INFO lines would tear a
    progress line apart, so the default level becomes WARNING."""
    from nightstream.log_setup import setup_logging

    meta = click.get_current_context().meta
    level = meta.get("nightstream.log_level", settings.log_level).upper()
    if progress_line and level == "INFO":
        level = "WARNING"
    setup_logging(level, meta.get("nightstream.log_format", settings.log_format).lower())


def user_errors(func: F) -> F:
    """Turn the errors a user can act on into one clear message."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (LinkFatalError, TargetFatalError) as exc:
            raise UserError(str(exc)) from None
        except (NightstreamError, ConfigError) as exc:
            raise UserError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="nightstream")
def main() -> None:
    """nightstream: vendor diabetes clouds -> Kafka -> Nightscout, each document exactly once."""


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@config_option
@click.option("--list", "listing", is_flag=True, help="Also one line per link and target.")
def config_check(config_file: Path | None, listing: bool) -> None:
    """Validate the configuration; summarise it and explain each problem."""
    from nightstream.config_summary import listing_lines, summary_lines

    settings = _settings(config_file)
    lines = summary_lines(settings) + (listing_lines(settings) if listing else [])
    click.echo("\n".join(lines))


@main.group()
def topics() -> None:
    """Manage the Kafka topics."""


@topics.command("create")
@config_option
@click.option(
    "--fix",
    is_flag=True,
    help="Also change existing topics where that loses nothing: add partitions, set configs.",
)
@user_errors
def topics_create(config_file: Path | None, fix: bool) -> None:
    """Create missing topics; report (or --fix) existing ones whose settings differ.

    Exits with 1 while a difference remains.
    """
    from nightstream.topics_admin import ensure_topics

    settings = _settings(config_file)
    _require_broker(settings)
    kafka = settings.kafka
    report = asyncio.run(
        _with_broker_errors(
            _brokers(settings),
            ensure_topics(
                _brokers(settings), _catalog(settings), kafka.replication_factor, fix=fix
            ),
        )
    )
    for name in report.created:
        click.echo(f"created  {name}")
    for name in report.existing:
        click.echo(f"exists   {name}")
    for done in report.fixed:
        click.echo(f"FIXED    {done.topic}: {done.setting} was {done.actual}, now {done.wanted}")
    for difference in report.differences:
        click.echo(f"DIFFERS  {difference}")
    if report.differences:
        fixable = len(report.differences) - len(report.unfixable)
        hint = f"; {fixable} can be fixed with --fix" if fixable and not fix else ""
        click.echo(f"{len(report.differences)} difference(s) left{hint}", err=True)
        raise SystemExit(1)


@topics.command("list")
@config_option
@user_errors
def topics_list(config_file: Path | None) -> None:
    """Show nightstream's topics: missing, as the catalog says, or how they differ."""
    from nightstream.topics_admin import topic_states

    settings = _settings(config_file)
    _require_broker(settings)
    bootstrap = _brokers(settings)
    states = asyncio.run(
        _with_broker_errors(bootstrap, topic_states(bootstrap, _catalog(settings)))
    )
    for state in states:
        spec = state.spec
        if state.missing:
            click.echo(f"missing  {spec.name}")
            continue
        label = "differs" if state.differences else "ok"
        click.echo(
            f"{label:<8} {spec.name} ({state.partitions} partitions, {spec.cleanup_policy}, "
            f"{spec.schema_name})"
        )
        for difference in state.differences:
            click.echo(f"           {difference}")


@topics.command("tail")
@config_option
@click.argument("topic")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="How many of the newest records, over all partitions.",
)
@user_errors
def topics_tail(config_file: Path | None, topic: str, limit: int) -> None:
    """Show the newest records of a topic, decoded from Avro to JSON."""
    from nightstream.roles import schema_registry
    from nightstream.topic_tail import tail

    settings = _settings(config_file)
    _require_broker(settings)
    kafka = settings.kafka
    try:
        result = asyncio.run(
            _with_broker_errors(
                _brokers(settings),
                tail(
                    _brokers(settings),
                    topic,
                    kafka.topic_prefix,
                    limit,
                    schema_registry(settings),
                ),
            )
        )
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    if not result.lines:
        click.echo(f"topic {topic} is empty", err=True)
    for line in result.lines:
        click.echo(line)


def _brokers(settings: Settings) -> Brokers:
    from nightstream.kafka_security import kafka_access

    return kafka_access(settings.kafka)


def _unreachable(brokers: Brokers, reason: str, check: str | None = None) -> UserError:
    from nightstream.broker_probe import BOOTSTRAP_CHECK
    from nightstream.schemas.kafka_access import bootstrap_of

    return UserError(
        f"cannot reach Kafka at {bootstrap_of(brokers)} ({reason}): "
        f"check {check or BOOTSTRAP_CHECK}"
    )


def _catalog(settings: Settings) -> list[TopicSpec]:
    from nightstream.schemas.topics import topic_catalog

    return topic_catalog(settings.kafka.topic_prefix, settings.kafka.partitions)


def _require_topics(settings: Settings) -> None:
    """Refuse to start a role over missing or misconfigured topics: the broker would create
    missing ones with its own defaults (a week's retention, no compaction)."""
    from nightstream.topics_admin import refusals, topic_states

    bootstrap = _brokers(settings)
    states = asyncio.run(
        _with_broker_errors(bootstrap, topic_states(bootstrap, _catalog(settings)))
    )
    problems = refusals(states)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise UserError(
            f"the topics are not as nightstream needs them:\n{lines}\nrun `nightstream topics "
            "create` (with --fix to change existing topics), or check kafka.topic_prefix"
        )


def _require_broker(settings: Settings) -> None:
    """Fail with one message, not a hang or a traceback, when no broker answers."""
    from nightstream.broker_probe import unreachable_reason

    bootstrap = _brokers(settings)
    problem = asyncio.run(unreachable_reason(bootstrap))
    if problem is not None:
        raise _unreachable(bootstrap, problem.reason, problem.check)


async def _with_broker_errors(bootstrap: Brokers, work: Any) -> Any:
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from nightstream.schemas.kafka_access import bootstrap_of

    try:
        return await asyncio.wait_for(work, timeout=60)
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        work.close() if hasattr(work, "close") else None
        raise _unreachable(bootstrap, type(exc).__name__) from None
    except KafkaError as exc:
        raise UserError(f"Kafka at {bootstrap_of(bootstrap)} answered an error: {exc}") from None


@main.command()
@config_option
@logging_options
@user_errors
def process(config_file: Path | None) -> None:
    """Run the stream processor: raw topics -> Nightscout document topics."""
    from nightstream.roles import build_processor_role, run_roles

    settings = _settings(config_file)
    _require_broker(settings)
    _require_topics(settings)
    _setup_logging(settings)
    run_roles({"processor": build_processor_role(settings)})


@main.command()
@config_option
@click.option("--link", "link_ids", multiple=True, help="Only these links (repeatable).")
@click.option("--once", is_flag=True, help="Poll each link once, then exit.")
@click.option("--dry-run", is_flag=True, help="Fetch and report, publish nothing.")
@click.option(
    "--instance-id",
    envvar="NIGHTSTREAM_POLLER_INSTANCE",
    default=None,
    help="A name unique to this poller process, the same across its restarts (links added at "
    "run time stay with it through a quick restart).",
)
@logging_options
@user_errors
def poll(
    config_file: Path | None,
    link_ids: tuple[str, ...],
    once: bool,
    dry_run: bool,
    instance_id: str | None,
) -> None:
    """Run the pollers: vendor clouds -> raw topics."""
    from nightstream.roles import Role, build_poller, links_role, run_roles
    from nightstream.sources.runner import PollerOptions

    settings = _settings(config_file)
    _known_links(settings, link_ids)
    if not dry_run:
        _require_broker(settings)
        _require_topics(settings)
    _setup_logging(settings)
    poller = build_poller(
        settings, PollerOptions(once=once, dry_run=dry_run), list(link_ids) or None
    )
    roles: dict[str, Role] = {"poller": poller.run}
    if not (link_ids or once or dry_run):
        roles["links"] = links_role(settings, poller, instance_id)
    run_roles(roles)
    _report_links(poller.status)
    if (once or dry_run) and any(s.state == "stopped" for s in poller.status.values()):
        raise SystemExit(1)  # a one-shot run whose link needs the user


@main.command()
@config_option
@click.option("--target", "targets", multiple=True, help="Only these targets (repeatable).")
@logging_options
@user_errors
def sink(config_file: Path | None, targets: tuple[str, ...]) -> None:
    """Run the sink: document topics -> Nightscout, read once for every target."""
    from nightstream.roles import build_delivery_role, run_roles

    settings = _settings(config_file)
    _setup_logging(settings)
    names = list(targets) or list(settings.targets)
    unknown = [t for t in names if t not in settings.targets]
    if unknown:
        raise UserError(f"unknown target(s): {', '.join(unknown)}")
    _require_broker(settings)
    _require_topics(settings)
    run_roles({"sink": build_delivery_role(settings, names)})


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Poll and report, publish nothing, no sinks.")
@logging_options
@user_errors
def run(config_file: Path | None, dry_run: bool) -> None:
    """Run every role in one process: pollers, processor and sinks.

    With no Kafka configured (kafka.bootstrap_servers, NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS),
    starts nightstream's own single-node broker (Java 11+ needed), data in the user data
    directory, and stops it on exit.
    """
    from nightstream.own_broker import own_broker
    from nightstream.roles import (
        Role,
        build_delivery_role,
        build_poller,
        build_processor_role,
        links_role,
        run_roles,
    )
    from nightstream.sources.runner import PollerOptions

    settings = _settings(config_file)
    _setup_logging(settings)
    with own_broker(settings) as own:
        if own is not None:
            settings = own.settings_for(settings)
            _create_topics(settings)
        _require_broker(settings)
        _require_topics(settings)
        poller = build_poller(settings, PollerOptions(dry_run=dry_run))
        roles: dict[str, Role] = {
            "poller": poller.run,
            "processor": build_processor_role(settings),
        }
        if not dry_run:
            roles["links"] = links_role(settings, poller, None)
            if settings.targets:
                roles["sink"] = build_delivery_role(settings, list(settings.targets))
        if own is not None:
            roles["kafka"] = own.supervise
        run_roles(roles)


def _create_topics(settings: Settings) -> None:
    """The missing topics, on the broker nightstream runs itself (nobody else manages it)."""
    from nightstream.topics_admin import ensure_topics

    kafka = settings.kafka
    asyncio.run(
        _with_broker_errors(
            kafka.bootstrap_servers,
            ensure_topics(kafka.bootstrap_servers, _catalog(settings), kafka.replication_factor),
        )
    )


@main.command("check-login")
@config_option
@click.argument("link_id", required=False)
@user_errors
def check_login(config_file: Path | None, link_id: str | None) -> None:
    """Try one link's vendor credentials exactly once and say what is wrong, if anything.

    LINK_ID may be left out when the configuration has one link.
    """
    from nightstream.roles import check_link_login

    settings = _settings(config_file)
    if link_id is None:
        if len(settings.links) != 1:
            ids = ", ".join(link.id for link in settings.links) or "none"
            raise UserError(f"name the link to check: the configuration has {ids}")
        link_id = settings.links[0].id
    _known_links(settings, (link_id,))
    ok, message = asyncio.run(check_link_login(settings.link(link_id)))
    click.echo(message)
    if not ok:
        raise SystemExit(1)


@main.command()
@config_option
@click.option("--link", "link_id", required=True, help="The link whose history to replay.")
@click.option("--to", "url", required=True, help="Base URL of the Nightscout site to fill.")
@click.option(
    "--token",
    envvar="NIGHTSTREAM_REPLAY_TOKEN",
    show_envvar=True,
    required=True,
    help="The site's API v3 access token; prefer the env var, which `ps` does not show.",
)
@click.option("--since", help="Only documents dated from then (YYYY-MM-DD or ISO 8601; UTC).")
@click.option("--until", help="Only documents dated before then (YYYY-MM-DD or ISO 8601; UTC).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=None,
    help="Writes in flight (default: a target's default max_concurrency).",
)
@logging_options
@user_errors
def replay(
    config_file: Path | None,
    link_id: str,
    url: str,
    token: str,
    since: str | None,
    until: str | None,
    concurrency: int | None,
) -> None:
    """Fill a Nightscout site with one link's history from the ns.* topics.

    Stops by itself once it has caught up with what the topics held when it started; run the
    same command again to continue an interrupted replay.
    """
    from nightstream.config import TargetSettings
    from nightstream.interruptible import Cancelled, run_interruptibly
    from nightstream.replay import plan_replay
    from nightstream.replay import replay as run_replay
    from nightstream.sinks.nightscout.client import NightscoutTargetConfig
    from nightstream.sinks.nightscout.date_window import DateWindow, parse_instant

    settings = _settings(config_file)
    defaults = TargetSettings.model_fields
    try:
        window = DateWindow(
            parse_instant(since) if since else None, parse_instant(until) if until else None
        )
        target = NightscoutTargetConfig(
            name="replay",
            base_url=url,
            access_token=token,
            max_concurrency=concurrency or defaults["max_concurrency"].default,
            request_timeout=defaults["timeout_seconds"].default,
        )
        configured = {name: t.url for name, t in settings.targets.items()}
        plan = plan_replay(settings.kafka.topic_prefix, link_id, target, window, configured)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    _require_broker(settings)
    _require_known_link(settings, link_id)
    if link_id not in {link.id for link in settings.links}:
        click.echo(f"note: link {link_id} is not configured; replaying its history", err=True)
    _setup_logging(settings, progress_line=True)
    try:
        horizon = settings.sink.acked_horizon_days
        report = run_interruptibly(
            lambda stop: run_replay(
                settings.kafka, plan, stop, sys.stderr, acked_horizon_days=horizon
            )
        )
    except Cancelled:
        click.echo("replay stopped at once; the next run repeats the unanswered writes", err=True)
        raise SystemExit(130) from None
    for line in report.lines():
        click.echo(line)
    if not report.complete:
        raise SystemExit(130)


@main.command()
@config_option
@click.option("--vendor", required=True, help="Whose raw topic, e.g. dexcomshare.")
@click.option("--link", "link_id", default=None, help="Only this link's payloads.")
@logging_options
@user_errors
def reprocess(config_file: Path | None, vendor: str, link_id: str | None) -> None:
    """Run the transforms again over a vendor's raw topic, from its start.

    Emits only documents whose content changed (after a fix in a transform), then stops. Run it
    while `nightstream process` is stopped, or accept that both may emit the same change once.
    """
    from nightstream.interruptible import Cancelled, run_interruptibly
    from nightstream.reprocess import reprocess as run_reprocess
    from nightstream.streams.registry import TRANSFORMS

    settings = _settings(config_file)
    if vendor not in TRANSFORMS:
        raise UserError(f"unknown vendor {vendor!r}: use one of {', '.join(sorted(TRANSFORMS))}")
    configured = {link.id: link.vendor for link in settings.links}
    if link_id is not None and configured.get(link_id, vendor) != vendor:
        raise UserError(f"link {link_id} is a {configured[link_id]} link, not {vendor}")
    _require_broker(settings)
    if link_id is not None:
        _require_known_link(settings, link_id)
    _setup_logging(settings, progress_line=True)
    try:
        report = run_interruptibly(
            lambda stop: run_reprocess(
                settings.kafka, vendor, TRANSFORMS, stop, sys.stderr, link=link_id
            )
        )
    except Cancelled:
        click.echo("reprocess stopped at once", err=True)
        raise SystemExit(130) from None
    for line in report.lines():
        click.echo(line)
    if not report.complete:
        raise SystemExit(130)


def _known_links(settings: Settings, link_ids: tuple[str, ...]) -> None:
    known = {link.id for link in settings.links}
    unknown = [link for link in link_ids if link not in known]
    if unknown:
        raise UserError(
            f"unknown link(s): {', '.join(unknown)}; "
            f"configured: {', '.join(sorted(known)) or 'none'}"
        )


def _require_known_link(settings: Settings, link_id: str) -> None:
    """Refuse a link id nightstream never heard of (a typo), which would do nothing."""
    from nightstream.known_links import known_link_ids

    bootstrap = _brokers(settings)
    known = asyncio.run(_with_broker_errors(bootstrap, known_link_ids(settings)))
    if link_id not in known:
        shown = ", ".join(sorted(known)[:10]) + (" ..." if len(known) > 10 else "")
        raise UserError(
            f"unknown link {link_id}: not in the configuration, the links topic or the "
            f"processor's bindings (known: {shown or 'none'})"
        )


def _report_links(status: dict[str, Any]) -> None:
    for link_id, link in status.items():
        line = (
            f"link {link_id}: {link.state}, {link.polls} poll(s), "
            f"{link.payloads_published} payload(s)"
        )
        click.echo(line + (f": {link.message}" if link.message else ""))


if __name__ == "__main__":
    # Run as ``python -m``, this file is not ``nightstream.cli``; the links commands import that
    # module, so run it rather than this copy.
    from nightstream.cli import main as importable_main

    importable_main()
else:
    # At the end: the links commands reuse this module's helpers.
    from nightstream.links_cli import links
    from nightstream.local_kafka.cli import kafka

    main.add_command(links)
    main.add_command(kafka)

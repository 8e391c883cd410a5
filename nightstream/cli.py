"""The ``nightstream`` command: every role, and the tools around them."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from nightstream.config import Settings, load_settings
from nightstream.config_errors import ConfigError, explain
from schemas.errors import LinkFatalError, NightstreamError, TargetFatalError

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
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
    except ValidationError as exc:
        problems = "\n".join(f"  - {line}" for line in explain(exc))
        raise UserError(f"configuration is not valid:\n{problems}") from None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aiokafka", "faust", "mode", "httpx", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def user_errors(func: F) -> F:
    """Turn the errors a user can act on into one clear message."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (LinkFatalError, TargetFatalError) as exc:
            raise UserError(str(exc)) from None
        except NightstreamError as exc:
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
def config_check(config_file: Path | None) -> None:
    """Validate the configuration and explain each problem."""
    settings = _settings(config_file)
    click.echo(
        f"configuration is valid: {len(settings.links)} link(s), "
        f"{len(settings.targets)} target(s), Kafka at {settings.kafka.bootstrap_servers}"
    )
    for link in settings.links:
        click.echo(f"  link {link.id}: {link.vendor} -> {', '.join(link.targets)}")
    for name, target in settings.targets.items():
        click.echo(f"  target {name}: {target.url} (API {target.api_version})")


@main.group()
def topics() -> None:
    """Manage the Kafka topics."""


@topics.command("create")
@config_option
@user_errors
def topics_create(config_file: Path | None) -> None:
    """Create missing topics; report existing ones whose settings differ from the catalog."""
    from nightstream.topics_admin import ensure_topics
    from schemas.topics import topic_catalog

    settings = _settings(config_file)
    _require_broker(settings)
    kafka = settings.kafka
    specs = topic_catalog(kafka.topic_prefix, kafka.partitions)
    report = asyncio.run(
        _with_broker_errors(
            kafka.bootstrap_servers,
            ensure_topics(kafka.bootstrap_servers, specs, kafka.replication_factor),
        )
    )
    for name in report.created:
        click.echo(f"created  {name}")
    for name in report.existing:
        click.echo(f"exists   {name}")
    for difference in report.differences:
        click.echo(f"DIFFERS  {difference}")


@topics.command("tail")
@config_option
@click.argument("topic")
@click.option("--limit", default=5, show_default=True, help="How many of the last records.")
@user_errors
def topics_tail(config_file: Path | None, topic: str, limit: int) -> None:
    """Show the last records of a topic, decoded from Avro to JSON."""
    from nightstream.roles import schema_registry
    from nightstream.topic_tail import tail

    settings = _settings(config_file)
    _require_broker(settings)
    kafka = settings.kafka
    try:
        lines = asyncio.run(
            _with_broker_errors(
                kafka.bootstrap_servers,
                tail(
                    kafka.bootstrap_servers,
                    topic,
                    kafka.topic_prefix,
                    limit,
                    schema_registry(settings),
                ),
            )
        )
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    for line in lines:
        click.echo(line)


def _unreachable(bootstrap: str, reason: str) -> UserError:
    return UserError(
        f"cannot reach Kafka at {bootstrap} ({reason}): check that the broker runs and "
        "kafka.bootstrap_servers (NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS)"
    )


def _require_broker(settings: Settings) -> None:
    """Fail with one message, not a hang or a traceback, when no broker answers."""
    from nightstream.broker_probe import unreachable_reason

    bootstrap = settings.kafka.bootstrap_servers
    reason = asyncio.run(unreachable_reason(bootstrap))
    if reason is not None:
        raise _unreachable(bootstrap, reason)


async def _with_broker_errors(bootstrap: str, work: Any) -> Any:
    from aiokafka.errors import KafkaConnectionError, KafkaError

    try:
        return await asyncio.wait_for(work, timeout=60)
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        work.close() if hasattr(work, "close") else None
        raise _unreachable(bootstrap, type(exc).__name__) from None
    except KafkaError as exc:
        raise UserError(f"Kafka at {bootstrap} answered an error: {exc}") from None


@main.command()
@config_option
@user_errors
def process(config_file: Path | None) -> None:
    """Run the stream processor: raw topics -> Nightscout document topics."""
    from nightstream.roles import build_processor, run_worker

    settings = _settings(config_file)
    _require_broker(settings)
    _setup_logging(settings.log_level)
    run_worker(build_processor(settings), {}, settings.log_level)


@main.command()
@config_option
@click.option("--link", "link_ids", multiple=True, help="Only these links (repeatable).")
@click.option("--once", is_flag=True, help="Poll each link once, then exit.")
@click.option("--dry-run", is_flag=True, help="Fetch and report, publish nothing.")
@user_errors
def poll(config_file: Path | None, link_ids: tuple[str, ...], once: bool, dry_run: bool) -> None:
    """Run the pollers: vendor clouds -> raw topics."""
    from nightstream.roles import build_poller, run_roles
    from sources.runner import PollerOptions

    settings = _settings(config_file)
    _known_links(settings, link_ids)
    if not dry_run:
        _require_broker(settings)
    _setup_logging(settings.log_level)
    poller = build_poller(
        settings, PollerOptions(once=once, dry_run=dry_run), list(link_ids) or None
    )
    run_roles({"poller": poller.run})
    _report_links(poller.status)


@main.command()
@config_option
@click.option("--target", "targets", multiple=True, help="Only these targets (repeatable).")
@user_errors
def sink(config_file: Path | None, targets: tuple[str, ...]) -> None:
    """Run the sinks: document topics -> Nightscout, one consumer group per target."""
    from nightstream.roles import build_sink_role, run_roles

    settings = _settings(config_file)
    _setup_logging(settings.log_level)
    names = list(targets) or list(settings.targets)
    unknown = [t for t in names if t not in settings.targets]
    if unknown:
        raise UserError(f"unknown target(s): {', '.join(unknown)}")
    _require_broker(settings)
    run_roles({f"sink-{name}": build_sink_role(settings, name) for name in names})


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Poll and report, publish nothing, no sinks.")
@user_errors
def run(config_file: Path | None, dry_run: bool) -> None:
    """Run every role in one process: pollers, processor and sinks."""
    from nightstream.roles import (
        Role,
        build_poller,
        build_processor,
        build_sink_role,
        run_worker,
    )
    from sources.runner import PollerOptions

    settings = _settings(config_file)
    _require_broker(settings)
    _setup_logging(settings.log_level)
    poller = build_poller(settings, PollerOptions(dry_run=dry_run))
    roles: dict[str, Role] = {"poller": poller.run}
    if not dry_run:
        roles |= {f"sink-{name}": build_sink_role(settings, name) for name in settings.targets}
    run_worker(build_processor(settings), roles, settings.log_level)


@main.command("check-login")
@config_option
@click.argument("link_id")
@user_errors
def check_login(config_file: Path | None, link_id: str) -> None:
    """Try one link's vendor credentials exactly once and say what is wrong, if anything."""
    from nightstream.roles import check_link_login

    settings = _settings(config_file)
    _known_links(settings, (link_id,))
    ok, message = asyncio.run(check_link_login(settings.link(link_id)))
    click.echo(message)
    if not ok:
        raise SystemExit(1)


def _known_links(settings: Settings, link_ids: tuple[str, ...]) -> None:
    known = {link.id for link in settings.links}
    unknown = [link for link in link_ids if link not in known]
    if unknown:
        raise UserError(
            f"unknown link(s): {', '.join(unknown)}; "
            f"configured: {', '.join(sorted(known)) or 'none'}"
        )


def _report_links(status: dict[str, Any]) -> None:
    for link_id, link in status.items():
        line = (
            f"link {link_id}: {link.state}, {link.polls} poll(s), "
            f"{link.payloads_published} payload(s)"
        )
        click.echo(line + (f": {link.message}" if link.message else ""))


if __name__ == "__main__":
    main()

"""``nightstream links``: links added, changed, paused and removed at run time.

Links live in two places that add up:

- the configuration file's ``[[links]]`` are polled as they are by the process that reads the
  file (one person, one process; nothing to run first);
- the compacted links topic holds links added with ``nightstream links add``, credentials
  encrypted; the poller instances share them through a consumer group, and a change reaches
  the owning instance within seconds, without restarting any other link.

An id belongs to one of the two: ``links add`` refuses an id that the file or the topic already
has, and a poller does not start a topic link whose id its file also has (its status says so).
Passwords never go on the command line (``ps`` would show them): they come from
``--password-stdin``, ``NIGHTSTREAM_LINK_PASSWORD`` or a hidden prompt.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError

from nightstream.cli import (
    UserError,
    _brokers,
    _require_broker,
    _require_topics,
    _settings,
    _with_broker_errors,
    config_option,
    user_errors,
)
from nightstream.config import LinkSettings, Settings
from nightstream.config_errors import explain
from nightstream.schemas.records import LinkRecord, LinkState, LinkStatusRecord

if TYPE_CHECKING:  # Kafka, crypto and the roles load only when a links command runs.
    from nightstream.link_store import LinkStore
    from nightstream.sources.link_credentials import LinkKeyring

T = TypeVar("T")
PASSWORD_ENV = "NIGHTSTREAM_LINK_PASSWORD"  # noqa: S105 (a variable's name, not a password)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _run(settings: Settings, work: Coroutine[Any, Any, T]) -> T:
    result: T = asyncio.run(_with_broker_errors(_brokers(settings), work))
    return result


def _store(settings: Settings) -> LinkStore:
    from nightstream.link_store import LinkStore
    from nightstream.roles import schema_registry

    _require_broker(settings)
    _require_topics(settings)
    return LinkStore(settings.kafka, schema_registry(settings))


def _keyring() -> LinkKeyring:
    from nightstream.sources.link_credentials import LinkKeyring

    return LinkKeyring.from_env(os.environ)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    elif sys.stdin.isatty():
        password = click.prompt("Vendor password", hide_input=True, confirmation_prompt=True)
    else:
        raise UserError(
            f"no password: pipe it with --password-stdin, set {PASSWORD_ENV}, or run in a "
            "terminal to be asked (never on the command line: `ps` would show it)"
        )
    if not password:
        raise UserError("the password is empty")
    return password


def _record(link: LinkSettings, keyring: LinkKeyring, *, paused: bool) -> LinkRecord:
    from nightstream.link_records import record_of

    return record_of(link, keyring, _now_ms(), paused=paused)


def _existing(settings: Settings, store: LinkStore, link_id: str) -> LinkRecord:
    found = _run(settings, store.links()).get(link_id)
    if found is not None:
        return found
    if any(link.id == link_id for link in settings.links):
        raise UserError(
            f"link {link_id} is in the configuration file, not the links topic: change it there"
        )
    raise UserError(f"no link {link_id} in {store.links_topic}: `nightstream links list`")


def _validated(fields: dict[str, Any], settings: Settings) -> LinkSettings:
    try:
        link = LinkSettings.model_validate(fields)
    except ValidationError as exc:
        problems = "\n".join(f"  - link.{line}" for line in explain(exc))
        raise UserError(f"the link is not valid:\n{problems}") from None
    unknown = sorted(set(link.targets) - set(settings.targets))
    if unknown:
        known = ", ".join(sorted(settings.targets)) or "none"
        raise UserError(
            f"target(s) {', '.join(unknown)} are not defined under [targets.<name>] in the "
            f"configuration (defined: {known})"
        )
    return link


password_option = click.option(
    "--password-stdin", is_flag=True, help=f"Read the password from stdin (else ${PASSWORD_ENV})."
)


@click.group()
def links() -> None:
    """Links at run time, on the links topic (credentials encrypted)."""


@links.command("add")
@config_option
@click.argument("link_id")
@click.option("--vendor", required=True, type=click.Choice(["dexcomshare", "librelinkup"]))
@click.option("--username", required=True, envvar="NIGHTSTREAM_LINK_USERNAME")
@password_option
@click.option("--target", "targets", multiple=True, help="Target name (repeatable).")
@click.option("--region")
@click.option("--server-url")
@click.option("--patient-id")
@click.option("--llu-version")
@click.option("--timezone")
@click.option("--interval", "poll_interval_seconds", type=float, default=300.0)
@click.option("--paused", is_flag=True, help="Store it without polling it yet.")
@user_errors
def links_add(
    config_file: Path | None, link_id: str, password_stdin: bool, paused: bool, **options: Any
) -> None:
    """Add a link; the poller instance that owns it starts it within seconds."""
    settings = _settings(config_file)
    if any(link.id == link_id for link in settings.links):
        raise UserError(f"link {link_id} is already in the configuration file: pick another id")
    keyring = _keyring()
    fields = {k: v for k, v in options.items() if v not in (None, ())}
    link = _validated({**fields, "id": link_id, "password": _password(password_stdin)}, settings)
    store = _store(settings)
    if link_id in _run(settings, store.links()):
        raise UserError(
            f"link {link_id} already exists: change it with set-password, pause or resume, "
            "or remove it first"
        )
    _run(settings, store.put([_record(link, keyring, paused=paused)]))
    click.echo(f"added link {link_id}" + (" (paused)" if paused else ""))


@links.command("remove")
@config_option
@click.argument("link_id")
@user_errors
def links_remove(config_file: Path | None, link_id: str) -> None:
    """Remove a link: its owner stops it; its cursor and raw history stay."""
    settings = _settings(config_file)
    store = _store(settings)
    _existing(settings, store, link_id)
    _run(settings, store.delete(link_id))
    click.echo(f"removed link {link_id}")


def _set_paused(config_file: Path | None, link_id: str, paused: bool) -> None:
    settings = _settings(config_file)
    store = _store(settings)
    link = _existing(settings, store, link_id)
    word = "paused" if paused else "resumed"
    if link.paused == paused:
        click.echo(f"link {link_id} is already {word}")
        return
    _run(settings, store.put([replace(link, paused=paused, updated_at_ms=_now_ms())]))
    click.echo(f"{word} link {link_id}")


@links.command("pause")
@config_option
@click.argument("link_id")
@user_errors
def links_pause(config_file: Path | None, link_id: str) -> None:
    """Stop polling a link, keeping its settings and cursor."""
    _set_paused(config_file, link_id, True)


@links.command("resume")
@config_option
@click.argument("link_id")
@user_errors
def links_resume(config_file: Path | None, link_id: str) -> None:
    """Poll a paused link again, from its cursor."""
    _set_paused(config_file, link_id, False)


@links.command("set-password")
@config_option
@click.argument("link_id")
@password_option
@click.option("--username", default=None, help="A new username too.")
@user_errors
def links_set_password(
    config_file: Path | None, link_id: str, password_stdin: bool, username: str | None
) -> None:
    """Give a link its new vendor password; only that link restarts."""
    settings = _settings(config_file)
    keyring = _keyring()
    store = _store(settings)
    record = _existing(settings, store, link_id)
    from nightstream.link_records import settings_of

    current = settings_of(record, keyring)
    changes = {"password": _password(password_stdin)} | ({"username": username} if username else {})
    link = _validated({**current.model_dump(), **changes}, settings)
    _run(settings, store.put([_record(link, keyring, paused=record.paused)]))
    click.echo(f"new credentials for link {link_id}" + (" (paused)" if record.paused else ""))


@links.command("import")
@config_option
@user_errors
def links_import(config_file: Path | None) -> None:
    """Copy the configuration file's links to the links topic, to share them among pollers.

    Then delete them from the file: while an id is in both, the file's link is polled and the
    topic's copy is not.
    """
    settings = _settings(config_file)
    keyring = _keyring()
    store = _store(settings)
    existing = _run(settings, store.links())
    new = [link for link in settings.links if link.id not in existing]
    _run(settings, store.put([_record(link, keyring, paused=False) for link in new]))
    skipped = len(settings.links) - len(new)
    click.echo(
        f"{len(new)} link(s) copied to {store.links_topic}"
        + (f", {skipped} already there (left as they are)" if skipped else "")
        + "; now delete them from the configuration file"
    )


@links.command("rotate-key")
@config_option
@user_errors
def links_rotate_key(config_file: Path | None) -> None:
    """Encrypt every link's credentials again with the first key of NIGHTSTREAM_LINKS_KEY."""
    settings = _settings(config_file)
    keyring = _keyring()
    store = _store(settings)
    records = list(_run(settings, store.links()).values())
    rotated = [replace(r, credentials=keyring.rotate(r.credentials, r.id)) for r in records]
    _run(settings, store.put(rotated))
    click.echo(f"{len(rotated)} link(s) encrypted with the first key; the older keys can go")


@links.command("new-key")
def links_new_key() -> None:
    """Print a new key for NIGHTSTREAM_LINKS_KEY (put it first, keep the old one after it)."""
    from nightstream.sources.link_credentials import new_key

    click.echo(new_key())


@links.command("list")
@config_option
@user_errors
def links_list(config_file: Path | None) -> None:
    """Every link: the configuration file's and the links topic's."""
    settings = _settings(config_file)
    topic_links = _run(settings, _store(settings).links())
    for link in settings.links:
        click.echo(f"{link.id}  {link.vendor}  -> {', '.join(link.targets)}  (configuration file)")
    for record in sorted(topic_links.values(), key=lambda r: r.id):
        paused = ", paused" if record.paused else ""
        click.echo(
            f"{record.id}  {record.vendor}  -> {', '.join(record.targets)}  "
            f"every {record.poll_interval_seconds:g} s  (links topic{paused})"
        )


def status_line(record: LinkRecord, status: LinkStatusRecord | None, now_ms: int) -> str:
    head = f"{record.id}  {record.vendor}  "
    if record.paused:
        return head + f"paused: `nightstream links resume {record.id}` polls it again"
    if status is None:
        return head + "waiting: no poller has started it yet (is `nightstream poll` running?)"
    age = f"{max(0, now_ms - status.updated_at_ms) // 1000} s ago"
    if status.state == LinkState.STOPPED:
        return head + f"STOPPED by {status.owner} {age}: {status.message}"
    if status.state == LinkState.RELEASED:
        return head + f"not polled since {age}: waiting for a poller instance to take it"
    return head + f"{status.state} on {status.owner} since {age}"


@links.command("status")
@config_option
@click.option("--link", "link_ids", multiple=True, help="Only these links (repeatable).")
@user_errors
def links_status(config_file: Path | None, link_ids: tuple[str, ...]) -> None:
    """Each topic link's state; for a stopped link, why and what to do."""
    settings = _settings(config_file)
    store = _store(settings)
    records = _run(settings, store.links())
    statuses = _run(settings, store.statuses())
    unknown = sorted(set(link_ids) - set(records))
    if unknown:
        raise UserError(f"no link {', '.join(unknown)} in {store.links_topic}")
    now = _now_ms()
    for link_id in sorted(link_ids or records):
        click.echo(status_line(records[link_id], statuses.get(link_id), now))
    stopped = sum(1 for s in statuses.values() if s.state == LinkState.STOPPED)
    click.echo(f"{len(records)} link(s) on {store.links_topic}, {stopped} stopped")

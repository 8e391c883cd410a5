"""``nightstream kafka ...`` (also ``python -m nightstream.local_kafka``): the local broker by
hand, for development, the test suite and benchmarks. ``nightstream run`` needs none of it."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import click

from nightstream.local_kafka.broker import BrokerError, BrokerOptions, LocalBroker
from nightstream.local_kafka.jars import JarFetchError, fetch_jars, read_lock
from nightstream.local_kafka.java import JavaMissing, require_java
from nightstream.local_kafka.processes import alive
from nightstream.local_kafka.server_config import PROFILES, Profile, read_properties

OPTIONS_FILE = "start-options.json"
"""What ``start`` was given beyond ports, so that ``restart`` starts the same broker."""


def _say(message: str) -> None:
    click.echo(f"kafka: {message}", err=True)


def _fail(exc: Exception) -> click.exceptions.Exit:
    _say(str(exc))
    return click.exceptions.Exit(2 if isinstance(exc, JavaMissing) else 1)


_ERRORS = (BrokerError, JarFetchError, JavaMissing, OSError)

directory_option = click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The broker's directory: config, data, pid and log.",
)
timeout_option = click.option(
    "--timeout", type=float, default=90.0, show_default=True, help="Seconds to become ready."
)


@click.group("kafka")
def kafka() -> None:
    """A single-node Kafka broker on this machine (needs Java 11+; jars are fetched once)."""


@kafka.command()
def fetch() -> None:
    """Fetch the broker's jars into the user cache directory (once)."""
    try:
        require_java()
        libs = fetch_jars(_say)
    except _ERRORS as exc:
        raise _fail(exc) from None
    _say(f"Kafka {read_lock().kafka_version} jars in {libs}")


def _extra_properties(pairs: tuple[str, ...], files: tuple[Path, ...]) -> dict[str, str]:
    extra: dict[str, str] = {}
    for path in files:
        if not path.is_file():
            raise click.BadParameter(f"{path} is not a file", param_hint="--extra-properties")
        extra.update(read_properties(path))
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--property")
        extra[key.strip()] = value.strip()
    return extra


def _start(broker: LocalBroker, owner_pid: int | None) -> None:
    try:
        bootstrap = broker.start(_say, attached=False, owner_pid=owner_pid)
    except _ERRORS as exc:
        raise _fail(exc) from None
    _say(f"ready in {broker.directory} (pid {broker.pid()})")
    click.echo(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}")


@kafka.command()
@directory_option
@click.option("--port", type=int, default=None, help="Client port (default: a free one, kept).")
@click.option("--controller-port", type=int, default=None, help="Controller port (likewise).")
@timeout_option
@click.option("--owner-pid", type=int, default=None, help="Stop the broker once it is gone.")
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="dev",
    show_default=True,
    help="dev: compaction and retention within seconds (tests); small: one person's broker.",
)
@click.option("--property", "pairs", multiple=True, help="KEY=VALUE over the profile's.")
@click.option(
    "--extra-properties",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A properties file over the profile's (before any --property): more listeners, TLS "
    "and SASL settings; the PLAINTEXT and CONTROLLER listeners must stay.",
)
@click.option(
    "--scram",
    "scram",
    multiple=True,
    help="MECHANISM=[name=USER,password=PASSWORD]: a SCRAM login added when DIR is first "
    "formatted.",
)
def start(
    directory: Path,
    port: int | None,
    controller_port: int | None,
    timeout: float,
    owner_pid: int | None,
    profile: Profile,
    pairs: tuple[str, ...],
    files: tuple[Path, ...],
    scram: tuple[str, ...],
) -> None:
    """Start the broker in the background (formatting DIR once) and print
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:<port> once it answers."""
    extra = _extra_properties(pairs, files)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / OPTIONS_FILE).write_text(json.dumps({"profile": profile, "extra": extra}))
    (directory / "owner.pid").unlink(missing_ok=True)
    options = BrokerOptions(port, controller_port, profile, extra, timeout, scram)
    _start(LocalBroker(directory, options), owner_pid)


@kafka.command()
@directory_option
def stop(directory: Path) -> None:
    """Stop the broker (SIGTERM, SIGKILL after 20 s); nothing to do when it is not running."""
    pid = LocalBroker(directory).stop()
    _say(f"stopped (pid {pid})" if pid else f"not running ({directory})")


@kafka.command()
@directory_option
@timeout_option
def restart(directory: Path, timeout: float) -> None:
    """Stop the broker and start it again on the same ports, data and settings."""
    if not (directory / "server.properties").is_file():
        raise _fail(BrokerError(f"nothing to restart in {directory} (use start)"))
    try:
        saved = json.loads((directory / OPTIONS_FILE).read_text())
    except (OSError, ValueError):
        saved = {"profile": "dev", "extra": {}}
    owner = None
    with contextlib.suppress(OSError, ValueError):
        owner = int((directory / "owner.pid").read_text())
    options = BrokerOptions(None, None, saved["profile"], saved["extra"], timeout)
    broker = LocalBroker(directory, options)
    broker.stop()
    _start(broker, owner if owner is not None and alive(owner) else None)


@kafka.command()
@directory_option
def status(directory: Path) -> None:
    """Exit 0 when the broker runs, 3 when it does not."""
    broker = LocalBroker(directory)
    pid = broker.pid()
    if pid is None:
        click.echo(f"stopped ({directory})")
        raise click.exceptions.Exit(3)
    click.echo(
        f"running: pid {pid}, KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap}, data {broker.data_path}"
    )


@kafka.command(hidden=True)
@click.option("--owner", type=int, required=True)
@directory_option
def watch(owner: int, directory: Path) -> None:
    """Stop the broker of DIR once OWNER is gone (started by ``start --owner-pid``)."""
    broker = LocalBroker(directory)
    (directory / "owner.pid").write_text(f"{owner}\n")
    while broker.pid() is not None:
        if not alive(owner):
            broker.stop()
            return
        time.sleep(2)


def main() -> None:
    kafka(prog_name="python -m nightstream.local_kafka")


if __name__ == "__main__":
    main()

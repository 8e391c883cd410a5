"""``nightstream links`` on the real broker: what reaches the topics, and what the user sees."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from nightstream.config import KafkaSettings
from nightstream.link_host import PollerLinkHost
from nightstream.link_store import LinkStore
from nightstream.roles import build_poll_source
from nightstream.schemas.records import LinkRecord, LinkState
from nightstream.schemas.serde import make_serde
from nightstream.sources.link_credentials import KEY_ENV, LinkKeyring, new_key
from nightstream.sources.link_status import LinkStatusPublisher
from nightstream.sources.poll_source import PollSource
from tests.integration.topic_records import read_topic
from tests.kafka_broker import KafkaNames

pytestmark = pytest.mark.kafka
PASSWORD = "Tr0ub4dor&3-clinic"
NEW_PASSWORD = "correct-horse-battery-2"
USERNAME = "alice.patient@example.org"
SECRETS = (PASSWORD, NEW_PASSWORD, USERNAME)


@dataclass
class Cli:
    config: Path
    kafka: KafkaSettings
    key: str

    def __call__(
        self, *args: str, stdin: str = "", key: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTSTREAM_")}
        if key != "":
            env[KEY_ENV] = key or self.key
        done = subprocess.run(
            [sys.executable, "-m", "nightstream.cli", *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        for secret in SECRETS:
            assert secret not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def add(
        self, link_id: str, *more: str, key: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self(
            "links", "add", link_id, "--vendor", "dexcomshare", "--username", USERNAME,
            "--region", "us", "--target", "home", "--password-stdin", *more,
            stdin=PASSWORD + "\n", key=key,
        )  # fmt: skip


@pytest.fixture
def cli(kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path) -> Cli:
    prefix = kafka_names.name("ns")
    config = tmp_path / "nightstream.toml"
    config.write_text(
        f'[kafka]\nbootstrap_servers = "{kafka_bootstrap}"\ntopic_prefix = "{prefix}"\n'
        'partitions = 2\n[targets.home]\nurl = "https://home.example.org"\ntoken = "tok-1"\n'
        '[[links]]\nid = "from-file"\nvendor = "dexcomshare"\nusername = "u"\npassword = "p"\n'
        'targets = ["home"]\n',
        encoding="utf-8",
    )
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=prefix)
    runner = Cli(config, kafka, new_key())
    assert runner("topics", "create").returncode == 0
    return runner


def _store(cli: Cli) -> LinkStore:
    return LinkStore(cli.kafka, None)


def test_add_change_pause_remove_and_no_secret_in_the_topic(cli: Cli) -> None:
    store = _store(cli)
    assert cli.add("alice").returncode == 0
    keyring = LinkKeyring([cli.key])
    (record,) = asyncio.run(store.links()).values()
    assert (record.id, record.targets, record.region, record.paused) == (
        "alice",
        ["home"],
        "us",
        False,
    )
    opened = keyring.decrypt(record.credentials, "alice")
    assert (opened.username.reveal(), opened.password.reveal()) == (USERNAME, PASSWORD)

    # Ids are unique over the file and the topic; wrong input changes nothing.
    for link_id, why in (("alice", "already exists"), ("from-file", "configuration file")):
        refused = cli.add(link_id)
        assert refused.returncode == 2
        assert why in refused.stderr
    unknown_target = cli.add("bob", "--target", "elsewhere")
    assert unknown_target.returncode == 2
    assert "elsewhere" in unknown_target.stderr
    no_key = cli.add("bob", key="")
    assert no_key.returncode == 2
    assert no_key.stderr.count("\n") == 1
    assert KEY_ENV in no_key.stderr
    assert cli("links", "add", "bob", "--vendor", "dexcomshare", "--username", "u").returncode == 2

    assert cli("links", "pause", "alice").returncode == 0
    assert "(links topic, paused)" in cli("links", "list").stdout
    assert cli("links", "resume", "alice").returncode == 0
    changed = cli("links", "set-password", "alice", "--password-stdin", stdin=NEW_PASSWORD)
    assert changed.returncode == 0, changed.stderr
    wrong_key = cli("links", "set-password", "alice", "--password-stdin", stdin="x", key=new_key())
    assert wrong_key.returncode == 2
    assert "none of the link keys opens its credentials" in wrong_key.stderr
    record = asyncio.run(store.links())["alice"]
    assert not record.paused
    assert keyring.decrypt(record.credentials, "alice").password.reveal() == NEW_PASSWORD

    listed = cli("links", "list").stdout
    assert "from-file  dexcomshare  -> home  (configuration file)" in listed
    assert "alice  dexcomshare  -> home  every 300 s  (links topic)" in listed

    assert cli("links", "remove", "alice").returncode == 0
    assert asyncio.run(store.links()) == {}
    assert cli("links", "remove", "alice").returncode == 2
    # Every version ever written stays on the topic until compaction: none holds a secret in
    # clear (added, paused, resumed, new password, tombstone).
    written = asyncio.run(read_topic(cli.kafka.bootstrap_servers, store.links_topic))
    assert len(written) == 5
    for message in written:
        for secret in SECRETS:
            assert secret.encode() not in (message.value or b"")


def test_rotate_key_re_encrypts_every_link_with_the_new_key(cli: Cli) -> None:
    old = cli.key
    assert cli.add("alice").returncode == 0
    assert cli.add("bob").returncode == 0
    new = new_key()
    rotated = cli("links", "rotate-key", key=f"{new},{old}")
    assert rotated.returncode == 0, rotated.stderr
    assert "2 link(s)" in rotated.stdout
    for record in asyncio.run(_store(cli).links()).values():
        assert (
            LinkKeyring([new]).decrypt(record.credentials, record.id).password.reveal() == PASSWORD
        )


@dataclass
class PolledStatus:
    state: str = "running"
    message: str | None = None


class RecordingPoller:
    """Stands in for the poller's add_link/remove_link/status (sources/runner.py's new API)."""

    def __init__(self) -> None:
        self.sources: dict[str, PollSource] = {}
        self.status: dict[str, PolledStatus] = {}

    def add_link(self, source: PollSource) -> None:
        assert source.link_id not in self.sources
        self.sources[source.link_id] = source
        self.status[source.link_id] = PolledStatus()

    async def remove_link(self, link_id: str) -> None:
        del self.status[link_id]
        await self.sources.pop(link_id).aclose()


async def _host_run(cli: Cli, keyring: LinkKeyring, records: list[LinkRecord]) -> RecordingPoller:
    """What the links assignment asks of an instance: start these links, then stop "gone"."""
    store = _store(cli)
    producer = AIOKafkaProducer(bootstrap_servers=cli.kafka.bootstrap_servers)
    await producer.start()
    poller = RecordingPoller()
    serde = make_serde("link_status", subject="s")
    status = LinkStatusPublisher(producer, store.status_topic, serde, owner="poller-1")
    host = PollerLinkHost(
        poller, keyring, build_poll_source, status, local_link_ids={"clash"}, target_names={"home"}
    )
    try:
        for record in records:
            await host.add_link(record)
        await host.remove_link("gone")
    finally:
        await producer.stop()
    return poller


def test_status_says_why_a_link_stopped_and_what_to_do(cli: Cli) -> None:
    for link_id in ("alice", "clash", "gone"):
        assert cli.add(link_id).returncode == 0
    assert cli.add("other-key", key=new_key()).returncode == 0
    assert cli.add("paused", "--paused").returncode == 0
    assert cli.add("waiting").returncode == 0
    # A poller instance that has the key, and a TOML link named "clash".
    keyring = LinkKeyring([cli.key])
    records = asyncio.run(_store(cli).links())
    started = [r for r in records.values() if r.id not in ("paused", "waiting")]
    poller = asyncio.run(_host_run(cli, keyring, started))
    assert set(poller.sources) == {"alice"}

    shown = cli("links", "status")
    assert shown.returncode == 0
    lines = {line.split("  ")[0]: line for line in shown.stdout.splitlines()}
    assert "running on poller-1" in lines["alice"]
    assert "STOPPED by poller-1" in lines["other-key"]
    assert KEY_ENV in lines["other-key"]
    assert "configuration file has a link with the same id" in lines["clash"]
    assert "not polled since" in lines["gone"]
    assert "nightstream links resume paused" in lines["paused"]
    assert "waiting: no poller has started it yet" in lines["waiting"]
    assert "6 link(s)" in shown.stdout
    statuses = asyncio.run(_store(cli).statuses())
    assert statuses["other-key"].state == LinkState.STOPPED


async def test_a_running_poller_follows_the_links_topic(
    cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    """CLI changes reach a running instance's poller within seconds, link by link; its logs
    hold no secret."""
    caplog.set_level(logging.DEBUG)
    from nightstream.config import load_settings
    from nightstream.link_wiring import LinksRole
    from nightstream.sources.link_assignment import AssignmentOptions
    from tests.integration.pipeline import wait_until

    async def run_cli(*args: str, stdin: str = "") -> None:
        done = await asyncio.to_thread(cli, *args, stdin=stdin)
        assert done.returncode == 0, done.stderr

    settings = load_settings({}, cli.config)
    poller = RecordingPoller()
    options = AssignmentOptions(
        group_id=cli.kafka.topic_prefix + "-pollers", heartbeat_interval_ms=1000
    )
    role = LinksRole(settings, poller, build_poll_source, env={KEY_ENV: cli.key}, options=options)
    stop = asyncio.Event()
    task = asyncio.create_task(role.run(stop))
    store = _store(cli)

    async def polled(ids: set[str]) -> bool:
        return set(poller.sources) == ids

    try:
        await asyncio.to_thread(cli.add, "alice")
        await wait_until(lambda: polled({"alice"}), within=60, what="alice polled")
        first = poller.sources["alice"]
        await asyncio.to_thread(cli.add, "bob")
        await wait_until(lambda: polled({"alice", "bob"}), within=60, what="bob polled")
        assert poller.sources["alice"] is first  # adding bob left alice alone

        bob = poller.sources["bob"]
        await run_cli("links", "set-password", "bob", "--password-stdin", stdin=NEW_PASSWORD)
        await wait_until(
            lambda: _is_not(poller.sources.get("bob"), bob), within=60, what="bob restarted"
        )
        assert poller.sources["alice"] is first
        await run_cli("links", "pause", "alice")
        await wait_until(lambda: polled({"bob"}), within=60, what="alice paused")
        await run_cli("links", "resume", "alice")
        await wait_until(lambda: polled({"alice", "bob"}), within=60, what="alice resumed")
        await run_cli("links", "remove", "bob")
        await wait_until(lambda: polled({"alice"}), within=60, what="bob removed")

        # The poller stops a link whose user must act; the role publishes why.
        poller.status["alice"].state = "stopped"
        poller.status["alice"].message = "Dexcom refused the password: run set-password"
        await wait_until(
            lambda: _state_is(store, "alice", LinkState.STOPPED), within=60, what="stop status"
        )
        shown = await asyncio.to_thread(cli, "links", "status")
        assert "STOPPED by" in shown.stdout
        assert "Dexcom refused the password: run set-password" in shown.stdout
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
    assert poller.sources == {}
    assert "alice" in caplog.text  # the logs were captured, and name the link
    for secret in SECRETS:
        assert secret not in caplog.text


async def _is_not(current: PollSource | None, before: PollSource) -> bool:
    return current is not None and current is not before


async def _state_is(store: LinkStore, link_id: str, state: LinkState) -> bool:
    status = (await store.statuses()).get(link_id)
    return status is not None and status.state == state


def test_import_copies_the_file_links_once_encrypted(cli: Cli) -> None:
    imported = cli("links", "import")
    assert imported.returncode == 0, imported.stderr
    assert "1 link(s) copied" in imported.stdout
    (record,) = asyncio.run(_store(cli).links()).values()
    assert record.id == "from-file"
    opened = LinkKeyring([cli.key]).decrypt(record.credentials, record.id)
    assert (opened.username.reveal(), opened.password.reveal()) == ("u", "p")
    again = cli("links", "import")
    assert "0 link(s) copied" in again.stdout
    assert "1 already there" in again.stdout
    assert len(asyncio.run(read_topic(cli.kafka.bootstrap_servers, _store(cli).links_topic))) == 1


async def test_without_a_key_each_link_stops_with_the_message_logged_once(
    cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    for link_id in ("a", "b", "c"):
        assert (await asyncio.to_thread(cli.add, link_id)).returncode == 0
    store = _store(cli)
    records = list((await store.links()).values())
    producer = AIOKafkaProducer(bootstrap_servers=cli.kafka.bootstrap_servers)
    await producer.start()
    try:
        status = LinkStatusPublisher(
            producer, store.status_topic, make_serde("link_status", subject="s"), "p1"
        )
        poller = RecordingPoller()
        host = PollerLinkHost(poller, LinkKeyring.for_poller({}), build_poll_source, status)
        for record in records:
            await host.add_link(record)
    finally:
        await producer.stop()
    assert poller.sources == {}
    statuses = await store.statuses()
    assert {s.state for s in statuses.values()} == {LinkState.STOPPED}
    assert all(KEY_ENV in (s.message or "") for s in statuses.values())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert KEY_ENV in errors[0].getMessage()

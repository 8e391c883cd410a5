"""SIGTERM stops every role within seconds in every state, commits only what Nightscout
acknowledged, prints no traceback, and a Nightscout outage is a couple of lines, not one per
retry. Each role runs as a real process against the session's broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.topics import TopicNames
from nightstream.simulators.nightscout import Faults, NightscoutTestServer
from tests.integration.cli_runs import CliRun
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.integration.topic_records import (
    bind_streams,
    produce_documents,
    read_topic,
    sgv_entry,
)
from tests.kafka_broker import KafkaBroker
from tests.timing import scaled

pytestmark = pytest.mark.kafka

LINK = "p-stop"
DEVICE = "nightstream://dexcomshare/00000000abcd"
START = 1_790_000_000_000
BACKLOG = 3000
STOP_WITHIN = 10.0
UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
TOKEN_ENV = "NIGHTSTREAM_REPLAY_TOKEN"


def _backlog() -> list[NsRecord]:
    return [sgv_entry(DEVICE, START + i * 300_000, 40 + i % 300) for i in range(BACKLOG)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def server() -> AsyncIterator[NightscoutTestServer]:
    async with NightscoutTestServer(api_secret=os.urandom(12).hex()) as running:
        yield running


async def _pipeline(bootstrap: str, workdir: Path, url: str, token: str) -> Pipeline:
    pipeline = Pipeline(bootstrap, workdir)
    vendor = f"http://127.0.0.1:{_closed_port()}"  # the poller retries; nothing to read
    pipeline.write_config({"ns": (url, token)}, [LinkSpec(LINK, "user", "pw", "us", vendor)])
    await pipeline.create_topics()
    await bind_streams(bootstrap, pipeline.prefix, {LINK: DEVICE})
    await produce_documents(bootstrap, pipeline.prefix, _backlog())
    return pipeline


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def _committed_identifiers(pipeline: Pipeline, group: str) -> set[str]:
    """Identifiers of the entries below the group's committed offsets."""
    committed = await _committed(pipeline.bootstrap, group)
    topic = TopicNames(pipeline.prefix).ns(Collection.ENTRIES)
    return {
        record.key.decode()
        for record in await read_topic(pipeline.bootstrap, topic)
        if record.key is not None
        and record.offset < committed.get(TopicPartition(topic, record.partition), 0)
    }


def _stored(server: NightscoutTestServer) -> set[str]:
    return {d["identifier"] for d in server.store.documents("entries", include_deleted=True)}


async def _stop_promptly(process: subprocess.Popen[bytes], output: Callable[[], str]) -> str:
    """SIGTERM; asserts the exit came within the limit, cleanly; returns the output."""
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    with contextlib.suppress(AssertionError):  # still running: said below, with the output
        await wait_until(
            lambda: _async(process.poll() is not None),
            within=STOP_WITHIN,
            what="exit",
            interval=0.05,
        )
    took, code, text = time.monotonic() - started, process.poll(), output()
    assert code is not None, f"still running {scaled(STOP_WITHIN):.0f} s after SIGTERM:\n{text}"
    assert took < scaled(STOP_WITHIN), text
    assert "Traceback" not in text, text
    print(f"{' '.join(map(str, process.args))[-60:]}: exit {code} {took:.1f} s after SIGTERM")  # type: ignore[arg-type]
    return text


async def _stop_once_writing(
    pipeline: Pipeline, role: str, writing: Callable[[], bool], *, interval: float
) -> None:
    """Start ``role``; once ``writing()`` holds, SIGTERM must stop it promptly."""
    try:
        process = pipeline.start(role, role)
        await wait_until(
            lambda: _async(writing()), within=60, what="writes under way", interval=interval
        )
        await _stop_promptly(process, lambda: pipeline.log(role))
    finally:
        pipeline.stop_all()


def _target_warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if " WARNING " in line and "target ns" in line]


@pytest.mark.parametrize("state", ["refused", "hanging", "failing"])
async def test_a_sink_with_a_backlog_stops_promptly_whatever_nightscout_does(
    kafka_bootstrap: str, tmp_path: Path, server: NightscoutTestServer, state: str
) -> None:
    token = server.create_access_token("sink", permissions=UPLOADER)
    url = f"http://127.0.0.1:{_closed_port()}" if state == "refused" else server.url
    pipeline = await _pipeline(kafka_bootstrap, tmp_path, url, token)
    group = f"{pipeline.prefix}-sink"
    try:
        sink = pipeline.start("sink", "sink")
        # Healthy first, so that some batches are acknowledged and committed before it fails.
        await wait_until(
            lambda: _async(len(_stored(server)) >= 600 or state == "refused"),
            within=60,
            what="the first batches",
            interval=0.02,
        )
        if state == "hanging":
            server.faults = Faults(hang_rate=1.0, hang_seconds=None)
        elif state == "failing":
            server.faults = Faults(error_rate=1.0, error_statuses=(503,))
        if state == "hanging":
            await asyncio.sleep(3.0)  # writes on the wire, waiting for answers
        else:  # the outage lasted long enough to be announced, after many retries
            await wait_until(
                lambda: _async("retrying; " in pipeline.log("sink")),
                within=30,
                what="the outage to be announced",
                interval=0.1,
            )
        output = await _stop_promptly(sink, lambda: pipeline.log("sink"))
    finally:
        pipeline.stop_all()
    assert len(_target_warnings(output)) <= 2, _target_warnings(output)
    if state != "hanging":
        assert any("retrying; " in line for line in _target_warnings(output)), output
    committed = await _committed_identifiers(pipeline, group)
    stored = _stored(server)
    assert committed <= stored  # nothing committed that Nightscout did not acknowledge
    assert len(committed) < BACKLOG
    if state != "refused":
        assert len(committed) >= 500  # what was acknowledged before the outage was committed


async def test_a_sink_stopped_while_nightscout_answers_commits_exactly_what_it_wrote(
    kafka_bootstrap: str, tmp_path: Path, server: NightscoutTestServer
) -> None:
    token = server.create_access_token("sink", permissions=UPLOADER)
    # Slow answers (about 10 ms a write), so SIGTERM comes with a batch in hand.
    server.faults = Faults(hang_rate=1.0, hang_seconds=0.01, after_write_rate=1.0, methods=("PUT",))
    pipeline = await _pipeline(kafka_bootstrap, tmp_path, server.url, token)
    await _stop_once_writing(pipeline, "sink", lambda: len(_stored(server)) >= 300, interval=0.02)
    committed = await _committed_identifiers(pipeline, f"{pipeline.prefix}-sink")
    assert 300 <= len(committed) < BACKLOG
    assert committed == _stored(server)


async def test_run_with_a_hanging_nightscout_stops_promptly(
    kafka_bootstrap: str, tmp_path: Path, server: NightscoutTestServer
) -> None:
    token = server.create_access_token("sink", permissions=UPLOADER)
    server.faults = Faults(hang_rate=1.0, hang_seconds=None, methods=("PUT",))
    pipeline = await _pipeline(kafka_bootstrap, tmp_path, server.url, token)
    await _stop_once_writing(
        pipeline, "run", lambda: server.stats.count(method="PUT") > 0, interval=0.1
    )
    assert await _committed_identifiers(pipeline, f"{pipeline.prefix}-sink") == set()


async def test_replay_into_a_hanging_site_stops_promptly(
    kafka_bootstrap: str, tmp_path: Path, server: NightscoutTestServer
) -> None:
    token = server.create_access_token("replay", permissions=UPLOADER)
    pipeline = await _pipeline(kafka_bootstrap, tmp_path, server.url, token)
    server.faults = Faults(hang_rate=1.0, hang_seconds=None, methods=("PUT",))
    command = ["replay", "--config", str(pipeline.config), "--link", LINK, "--to", server.url]
    replay = CliRun.start(tmp_path, "replay", command, {TOKEN_ENV: token})
    try:
        await wait_until(
            lambda: _async(server.stats.count(method="PUT") > 0),
            within=60,
            what="writes under way",
            interval=0.1,
        )
        output = await _stop_promptly(replay.process, lambda: replay.stderr() + replay.stdout())
    finally:
        replay.stop()
    assert replay.process.returncode == 130
    assert "interrupted: run the same command to continue" in output


@pytest.mark.parametrize("role", ["process", "poll", "sink", "run"])
async def test_every_role_stops_promptly_while_kafka_does_not_answer(
    kafka_broker: KafkaBroker, tmp_path: Path, server: NightscoutTestServer, role: str
) -> None:
    if not kafka_broker.supports_restart:
        pytest.skip("needs the local broker (NIGHTSTREAM_TEST_KAFKA=local) to freeze it")
    token = server.create_access_token("sink", permissions=UPLOADER)
    pipeline = await _pipeline(kafka_broker.bootstrap, tmp_path, server.url, token)
    try:
        process = pipeline.start(role, role)
        await asyncio.sleep(scaled(4.0))  # started and at work
        assert process.poll() is None, pipeline.log(role)
        with kafka_broker.frozen():
            await asyncio.sleep(1.0)
            await _stop_promptly(process, lambda: pipeline.log(role))
    finally:
        pipeline.stop_all()


async def _async(value: bool) -> bool:
    return value

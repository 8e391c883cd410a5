"""A real Kafka broker for the test session (pytest plugin; registered in tests/conftest.py).

Where the broker comes from, first match wins:

1. ``KAFKA_BOOTSTRAP_SERVERS``: an existing broker; it must answer a metadata request.
2. A Docker engine that answers: testcontainers' ``KafkaContainer`` (cp-kafka, KRaft).
3. The project's own single-node Apache Kafka (``compose/kafka/kafka-local``, i.e.
   ``nightstream kafka``, dev profile), its jars fetched from Maven Central once, started once
   per test session in a temporary directory and stopped at the end. Needs Java 11+; without
   it the Kafka tests fail and say what to install.

``NIGHTSTREAM_TEST_KAFKA=local`` (or ``container``) skips the choice between 2 and 3, e.g. to run
broker-restart fault tests on a machine that also has Docker.

Fixtures: ``kafka_bootstrap`` (the bootstrap string), ``kafka_broker`` (a ``KafkaBroker``, whose
``restart()`` works on the local broker only) and ``kafka_names`` (unique topic/group names).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from aiokafka import AIOKafkaClient

from tests.timing import scaled

REPO = Path(__file__).resolve().parents[1]
KAFKA_LOCAL = REPO / "compose" / "kafka" / "kafka-local"
# Confluent Platform 7.9 ships Apache Kafka 3.9, the line kafka-local runs.
CP_KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
# Covers a first run that still has to download the jars from Maven Central.
KAFKA_LOCAL_TIMEOUT_S = scaled(600)

BrokerKind = Literal["external", "container", "local"]


class KafkaBroker:
    """The session's broker: where it is, and (local broker only) a way to bounce it."""

    def __init__(self, bootstrap: str, kind: BrokerKind, data_dir: Path | None = None) -> None:
        self._bootstrap = bootstrap
        self._kind: BrokerKind = kind
        self._data_dir = data_dir

    @property
    def bootstrap(self) -> str:
        return self._bootstrap

    @property
    def kind(self) -> BrokerKind:
        return self._kind

    @property
    def supports_restart(self) -> bool:
        return self._data_dir is not None

    def restart(self, timeout_s: int = 90) -> None:
        """Stop the broker (SIGTERM) and start it again on the same port with the same data.

        Blocks until the broker answers again. Skips the calling test when the session does
        not run the local broker. From async tests prefer ``restart_async``, which keeps the
        event loop (and the clients under test) running meanwhile.
        """
        _check_restarted(self, _kafka_local(*self._restart_args(timeout_s)))

    async def restart_async(self, timeout_s: int = 90) -> None:
        """``restart`` without blocking the running event loop."""
        args = self._restart_args(timeout_s)
        proc = await asyncio.create_subprocess_exec(
            str(KAFKA_LOCAL),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        result = subprocess.CompletedProcess(
            [str(KAFKA_LOCAL), *args], proc.returncode, out.decode(), err.decode()
        )
        _check_restarted(self, _bootstrap_from(result))

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """The broker stopped with SIGSTOP (it answers nothing, connections hang) until the end
        of the block. Skips the calling test when the session does not run the local broker."""
        if self._data_dir is None:
            pytest.skip(f"freezing the broker needs the local broker, not the {self._kind} one")
        pid = int((self._data_dir / "broker.pid").read_text().strip())
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def _restart_args(self, timeout_s: int) -> list[str]:
        if self._data_dir is None:
            pytest.skip(
                f"broker restart needs the locally provisioned broker; this session uses the "
                f"{self._kind} broker (set NIGHTSTREAM_TEST_KAFKA=local to force it)"
            )
        return ["restart", "--dir", str(self._data_dir), "--timeout", str(round(scaled(timeout_s)))]


def _check_restarted(broker: KafkaBroker, bootstrap: str) -> None:
    if bootstrap != broker.bootstrap:
        raise RuntimeError(f"broker came back on {bootstrap}, expected {broker.bootstrap}")


def unique_name(stem: str) -> str:
    """``stem`` plus a random suffix, valid as a topic, group or transactional id."""
    clean = re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-")[:100] or "t"
    return f"{clean}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class KafkaNames:
    """Names unique to one test, prefixed with the test's name so the broker log stays legible."""

    stem: str

    def topic(self, name: str = "topic") -> str:
        return unique_name(f"{self.stem}-{name}")

    def group(self, name: str = "group") -> str:
        return unique_name(f"{self.stem}-{name}")

    def name(self, kind: str) -> str:
        """Any other id (transactional id, client id, ...)."""
        return unique_name(f"{self.stem}-{kind}")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        _require_metadata(external, "KAFKA_BOOTSTRAP_SERVERS")
        yield KafkaBroker(external, "external")
        return

    choice = os.environ.get("NIGHTSTREAM_TEST_KAFKA", "auto").strip().lower() or "auto"
    if choice not in {"auto", "container", "local"}:
        pytest.fail(
            f"NIGHTSTREAM_TEST_KAFKA={choice!r}: use auto, container or local", pytrace=False
        )
    if choice == "auto":
        choice = "container" if _docker_answers() else "local"
    elif choice == "container" and not _docker_answers():
        pytest.fail("NIGHTSTREAM_TEST_KAFKA=container, but no Docker engine answers", pytrace=False)
    if choice == "container":
        yield from _container_broker()
    else:
        yield from _local_broker(tmp_path_factory.mktemp("kafka"))


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap


@pytest.fixture
def kafka_names(request: pytest.FixtureRequest) -> KafkaNames:
    return KafkaNames(request.node.name)


def _local_broker(data_dir: Path) -> Iterator[KafkaBroker]:
    # --owner-pid: the broker also goes away if this pytest process is killed without teardown.
    bootstrap = _kafka_local("start", "--dir", str(data_dir), "--owner-pid", str(os.getpid()))
    try:
        _require_metadata(bootstrap, f"the local broker in {data_dir}")
        yield KafkaBroker(bootstrap, "local", data_dir)
    finally:
        _run_kafka_local("stop", "--dir", str(data_dir)).check_returncode()


def _container_broker() -> Iterator[KafkaBroker]:
    kafka = importlib.import_module("testcontainers.community.kafka")
    container = (
        kafka.KafkaContainer(CP_KAFKA_IMAGE)
        .with_kraft()
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        # The same test-friendly settings as the local broker's server.properties.
        .with_env("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "1")
        .with_env("KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS", "1000")
        .with_env("KAFKA_LOG_CLEANER_BACKOFF_MS", "1000")
    )
    container.start(timeout=120)
    try:
        bootstrap = str(container.get_bootstrap_server())
        _require_metadata(bootstrap, f"the {CP_KAFKA_IMAGE} container")
        yield KafkaBroker(bootstrap, "container")
    finally:
        container.stop()


def _docker_answers() -> bool:
    try:
        docker = importlib.import_module("docker")
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _run_kafka_local(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAFKA_LOCAL), *args],
        capture_output=True,
        text=True,
        timeout=KAFKA_LOCAL_TIMEOUT_S,
        check=False,
    )


def _kafka_local(*args: str) -> str:
    """Run kafka-local, return the bootstrap servers it printed."""
    return _bootstrap_from(_run_kafka_local(*args))


def _bootstrap_from(result: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(str(a) for a in result.args)
    if result.returncode == 2:  # Java missing: integration tests cannot pass without
        pytest.fail(f"no Kafka broker for this session: {result.stderr.strip()}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"{command} failed (exit {result.returncode}):\n{result.stderr.strip()}",
            pytrace=False,
        )
    for line in result.stdout.splitlines():
        if line.startswith("KAFKA_BOOTSTRAP_SERVERS="):
            return line.partition("=")[2].strip()
    pytest.fail(f"{command} printed no KAFKA_BOOTSTRAP_SERVERS line", pytrace=False)


def _require_metadata(bootstrap: str, source: str) -> None:
    """One Metadata request: the broker answers and lists at least one broker."""

    async def probe() -> int:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await asyncio.wait_for(client.bootstrap(), scaled(15))
            return len(client.cluster.brokers())
        finally:
            await client.close()

    # A private loop: this runs in a sync session fixture, outside pytest-asyncio's loops.
    loop = asyncio.new_event_loop()
    try:
        brokers = loop.run_until_complete(probe())
    except Exception as exc:
        pytest.fail(f"Kafka at {bootstrap} ({source}) is not reachable: {exc!r}", pytrace=False)
    finally:
        loop.close()
    if brokers == 0:
        pytest.fail(f"Kafka at {bootstrap} ({source}) reports no brokers", pytrace=False)

"""Ctrl-C stops the demo at any moment, its broker with it: during the jar fetch and during
the broker's start (a broker left running there was the bug)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nightstream.local_kafka.processes import alive
from tests.child_processes import kill_group, spawn
from tests.jar_cache import cache_missing_one_jar, cache_with_jars
from tests.timing import scaled


def _demo(cache: Path, out: Path, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NIGHTSTREAM_", "NIGHTSCOUT", "KAFKA_"))
    }
    env |= {"NIGHTSTREAM_CACHE": str(cache), **(extra or {})}
    with out.open("wb") as stdout:
        return spawn(
            [sys.executable, "-m", "nightstream.demo", "--exit-when-landed"],
            stdout=stdout,
            stderr=stdout,
            env=env,
        )


def _wait_for(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + scaled(within)
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {scaled(within):.0f} s"
        time.sleep(0.05)


def _ctrl_c_and_wait(process: subprocess.Popen[bytes], within: float) -> int:
    """SIGINT to the demo's process group, as a terminal's Ctrl-C; its exit code."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(timeout=scaled(within))
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise AssertionError(f"the demo still ran {scaled(within):.0f} s after Ctrl-C") from None


def test_ctrl_c_while_the_broker_starts_stops_it(tmp_path: Path) -> None:
    cache = cache_with_jars(tmp_path)
    pid_file = cache / "demo" / "kafka" / "broker.pid"
    out = tmp_path / "demo.out"
    demo = _demo(cache, out)
    _wait_for(pid_file.exists, 60, "broker.pid")
    broker_pid = int(pid_file.read_text())
    assert alive(broker_pid)
    assert "Kafka: 127.0.0.1" not in out.read_text()  # not yet ready: the early moment

    code = _ctrl_c_and_wait(demo, 40)

    output = out.read_text()
    assert code == 130, output
    assert not alive(broker_pid), f"broker {broker_pid} left running:\n{output}"
    assert "Traceback" not in output, output
    assert not pid_file.exists()


@pytest.fixture
def silent_repository() -> Iterator[str]:
    """A repository URL whose server accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/maven2"


def test_ctrl_c_during_the_jar_fetch(tmp_path: Path, silent_repository: str) -> None:
    cache, missing = cache_missing_one_jar(tmp_path)
    out = tmp_path / "demo.out"
    demo = _demo(cache, out, {"NIGHTSTREAM_MAVEN_REPOSITORY": silent_repository})
    _wait_for(lambda: f"[1/1] {missing}" in out.read_text(), 60, "fetch progress line")

    code = _ctrl_c_and_wait(demo, 20)

    output = out.read_text()
    assert code == 130, output
    assert "fetching the Kafka" in output
    assert not (cache / "demo" / "kafka" / "broker.pid").exists(), output
    leftovers = [p.name for p in cache.rglob("*.part")]
    assert leftovers == [], leftovers

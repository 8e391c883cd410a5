"""The local broker's parts: the jar lock, the fetch (from a repository on this machine), the
Java check, extra server properties kept across a restart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nightstream.local_kafka.jars import JarFetchError, JarLock, fetch_jars, read_lock
from nightstream.local_kafka.java import major_version
from nightstream.local_kafka.server_config import read_properties
from tests.child_processes import kill_group, spawn
from tests.jar_cache import cache_with_jars
from tests.timing import scaled

REPO = Path(__file__).resolve().parents[2]


def test_the_lock_is_for_the_poms_kafka() -> None:
    pom = (REPO / "compose" / "kafka" / "pom.xml").read_text()
    wanted = re.search(r"<kafka\.version>(.*?)</kafka\.version>", pom)
    assert wanted is not None
    lock = read_lock()
    assert lock.kafka_version == wanted.group(1)
    names = {jar.artifact for jar in lock.jars}
    assert {"kafka_2.13", "kafka-clients", "slf4j-reload4j", "reload4j"} <= names


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert major_version(output) == major


class _Repository(BaseHTTPRequestHandler):
    """Serves each jar of the real cache at its Maven path; ``corrupt`` names one served
    with a byte changed."""

    libs: Path
    corrupt = ""
    url = ""

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        path = self.libs / name
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if name == self.corrupt:
            body = bytes([body[0] ^ 1]) + body[1:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[type[_Repository]]:
    class Repository(_Repository):
        libs = fetch_jars(print)

    handler = Repository
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/maven2"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _small_lock(lock: JarLock, count: int) -> JarLock:
    return JarLock(lock.kafka_version, lock.jars[:count], f"test-{count}")


def test_fetch_prints_a_line_per_jar_and_checks_each(
    tmp_path: Path, repository: type[_Repository], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHTSTREAM_CACHE", str(tmp_path))
    monkeypatch.setenv("NIGHTSTREAM_MAVEN_REPOSITORY", repository.url)
    lock = _small_lock(read_lock(), 3)
    lines: list[str] = []
    libs = fetch_jars(lines.append, lock)
    assert sorted(p.name for p in libs.iterdir()) == sorted(j.file_name for j in lock.jars)
    assert lines[0].startswith(f"fetching the Kafka {lock.kafka_version} jars: 3 of 3")
    assert [line.split()[0] for line in lines[1:]] == ["[1/3]", "[2/3]", "[3/3]"]
    assert fetch_jars(lines.append, lock) == libs
    assert len(lines) == 4  # nothing fetched the second time

    repository.corrupt = lock.jars[0].file_name
    other = _small_lock(read_lock(), 1)
    (libs / other.jars[0].file_name).unlink()
    with pytest.raises(JarFetchError, match="SHA-256 differs"):
        fetch_jars(lines.append, JarLock(other.kafka_version, other.jars, "test-corrupt"))
    assert not (libs / other.jars[0].file_name).exists()
    assert list(libs.glob("*.part")) == []


def _kafka(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    process = spawn(
        [sys.executable, "-m", "nightstream.local_kafka", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = process.communicate(timeout=scaled(120))
    finally:
        kill_group(process)
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


def test_extra_properties_and_scram_logins_are_kept_across_a_restart(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTSTREAM_")}
    env["NIGHTSTREAM_CACHE"] = str(cache_with_jars(tmp_path))
    directory = tmp_path / "broker"
    listeners = "PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"
    extra = tmp_path / "extra.properties"
    extra.write_text("log.retention.ms=123456789\nnum.io.threads=3\n")
    try:
        started = _kafka(
            "start",
            "--dir",
            str(directory),
            "--profile",
            "small",
            "--property",
            f"listeners={listeners}",
            "--extra-properties",
            str(extra),
            "--scram",
            "SCRAM-SHA-256=[name=alice,password=alice-secret]",
            env=env,
        )
        assert started.returncode == 0, started.stderr
        bootstrap = started.stdout.strip().rpartition("=")[2]
        restarted = _kafka("restart", "--dir", str(directory), env=env)
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout.strip().endswith(bootstrap)
        properties = read_properties(directory / "server.properties")
        assert properties["log.retention.ms"] == "123456789"
        assert properties["num.network.threads"] == "1"  # still the small profile
        assert properties["num.io.threads"] == "3"  # the file over the profile
        port = bootstrap.rpartition(":")[2]
        assert properties["listeners"].startswith(f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://")
    finally:
        stopped = _kafka("stop", "--dir", str(directory), env=env)
    assert stopped.returncode == 0
    assert _kafka("status", "--dir", str(directory), env=env).returncode == 3

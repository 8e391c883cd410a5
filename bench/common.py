"""Shared helpers for the benchmarks: a broker, a test server process, topic counters, results."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from nightstream.schemas.kafka_clients import kafka_producer

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
KAFKA_LOCAL = REPO / "compose" / "kafka" / "kafka-local"


def unique_prefix(tag: str) -> str:
    return f"bench-{tag}-{uuid.uuid4().hex[:8]}"


def child_env() -> dict[str, str]:
    """Environment for subprocesses: the repo importable, no NIGHTSTREAM_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTSTREAM_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@contextlib.contextmanager
def kafka_broker(bootstrap: str | None) -> Iterator[str]:
    """``--bootstrap``, else $KAFKA_BOOTSTRAP_SERVERS, else a broker of our own for this run."""
    given = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as directory:
        started = subprocess.run(
            [str(KAFKA_LOCAL), "start", "--dir", directory],
            check=True,
            capture_output=True,
            text=True,
        )
        match = re.search(r"KAFKA_BOOTSTRAP_SERVERS=(\S+)", started.stdout)
        if match is None:
            raise RuntimeError(f"kafka-local did not print the bootstrap: {started.stderr}")
        print(f"started a broker on {match.group(1)}", file=sys.stderr)
        try:
            yield match.group(1)
        finally:
            subprocess.run([str(KAFKA_LOCAL), "stop", "--dir", directory], check=False)


class TestServerProcess:
    """The multi-site Nightscout test server (``python -m nightstream.simulators.nightscout``)
    in its own process (own CPU, own event loop)."""

    def __init__(self, workdir: Path) -> None:
        self.api_secret = os.urandom(12).hex()
        self._workdir = workdir
        self._process: subprocess.Popen[str] | None = None
        self.url = ""
        self.token = ""

    def start(self) -> TestServerProcess:
        token_file = self._workdir / f"token-{uuid.uuid4().hex[:6]}"
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nightstream.simulators.nightscout",
                "--port",
                "0",
                "--api-secret",
                self.api_secret,
                "--token-out",
                str(token_file),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=self._workdir,
            env=child_env(),
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        self.token = self._process.stdout.readline().strip()
        if not self.url.startswith("http") or not self.token:
            raise RuntimeError("the test server did not start")
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> TestServerProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def _admin_headers(self) -> dict[str, str]:
        return {"api-secret": hashlib.sha1(self.api_secret.encode()).hexdigest()}  # noqa: S324

    async def put_count(self) -> int:
        """PUTs the server answered (any status), from its own counters."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.get("/__testserver/stats", headers=self._admin_headers)
            response.raise_for_status()
            stats: dict[str, Any] = response.json()
        return sum(int(r["count"]) for r in stats["requests"] if r["method"] == "PUT")

    async def document_count(self, collection: str) -> int:
        async with httpx.AsyncClient(base_url=self.url, timeout=120) as client:
            response = await client.get(
                f"/__testserver/documents/{collection}", headers=self._admin_headers
            )
            response.raise_for_status()
            return len(response.json())


async def produce(bootstrap: str, messages: Sequence[tuple[str, bytes, bytes]]) -> None:
    """Send (topic, key, value) messages and wait for every acknowledgement."""
    producer = kafka_producer(bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        for start in range(0, len(messages), 5000):
            chunk = messages[start : start + 5000]
            futures = [await producer.send(t, key=k, value=v) for t, k, v in chunk]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, limit: float, what: str, interval: float = 0.25
) -> float:
    """Poll ``condition``; returns the monotonic time at which it first held."""
    deadline = time.monotonic() + limit
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {limit:.0f} s waiting for {what}")
        await asyncio.sleep(interval)
    return time.monotonic()


@dataclass
class Child:
    """A role run as ``python -m nightstream.cli <role> --config FILE`` with its log in workdir."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, args: Sequence[str], workdir: Path) -> Child:
        log = workdir / f"{name}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(
                [sys.executable, *args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=child_env(),
            )
        return cls(name, process, log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_average_1_5_15_min": [round(load, 2) for load in os.getloadavg()],
    }


def table(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label.ljust(width)}  {value}" for label, value in rows)


class LoopStalls:
    """The longest an event loop stood still while ``async with LoopStalls() as stalls`` ran:
    a ticker that asks for 10 ms and notes how much later it woke."""

    TICK = 0.01

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopStalls:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.TICK)
            self.longest = max(self.longest, loop.time() - before - self.TICK)

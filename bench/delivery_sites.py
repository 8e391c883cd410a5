"""What the delivery benchmarks share: many sites in one test server process, a config naming
them, one stream per site, documents produced at a steady pace with their Kafka acknowledgement
time stamped, the fan-out sink in a child process, and what each site holds afterwards.

Latency of a document: from the moment the producer's ``send`` was acknowledged by Kafka
(acks=all) to ``srvCreated``, the time the site's test server stored it (its answer follows
at once). Both clocks are this machine's wall clock (epoch ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import Child, child_env, unique_prefix
from nightstream.schemas.documents import Collection, NsRecord, to_avro
from nightstream.schemas.identity import entry_identifier
from nightstream.schemas.kafka_clients import kafka_producer
from nightstream.schemas.records import StreamBinding
from nightstream.schemas.serde import make_serde
from nightstream.schemas.stream_partitions import stream_partition
from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.topics_admin import ensure_topics

FIVE_MINUTES_MS = 300_000
TICK_SECONDS = 0.05
FETCH_CONCURRENCY = 16


def stream_of(site: str) -> str:
    return f"nightstream://dexcomshare/{site}"


def link_of(site: str) -> str:
    return f"link-{site}"


class SiteServer:
    """``python -m nightstream.simulators.nightscout --sites N`` in its own process, with a
    stall timeline (``bench.site_server_child``)."""

    def __init__(self, count: int, workdir: Path) -> None:
        self.count = count
        self._listing_file = workdir / "sites.json"
        self.stalls = workdir / "server-stalls.jsonl"
        self._process: subprocess.Popen[str] | None = None
        self.sites: dict[str, dict[str, str]] = {}
        self.started_s = 0.0

    def __enter__(self) -> SiteServer:
        began = time.monotonic()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.site_server_child",
                "--stalls",
                str(self.stalls),
                "--",
                "--sites",
                str(self.count),
                "--sites-out",
                str(self._listing_file),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        assert self._process.stdout is not None
        self._process.stdout.readline()
        if not self._process.stdout.readline().strip():
            raise RuntimeError("the test server did not start")
        self.sites = json.loads(self._listing_file.read_text())
        self.started_s = time.monotonic() - began
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def _admin(self, site: str) -> tuple[str, dict[str, str]]:
        entry = self.sites[site]
        return f"{entry['url']}/__testserver", {"api-secret": _sha1(entry["api_secret"])}

    async def set_faults(self, site: str, faults: dict[str, Any] | None) -> None:
        base, headers = self._admin(site)
        async with httpx.AsyncClient(timeout=30) as client:
            if faults is None:
                response = await client.delete(f"{base}/faults", headers=headers)
            else:
                response = await client.post(f"{base}/faults", headers=headers, json=faults)
            response.raise_for_status()

    async def holdings(self, sites: Sequence[str]) -> dict[str, SiteHolding]:
        """Each site's stored entries (deleted ones included) and its PUT count."""
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)
        held: dict[str, SiteHolding] = {}
        async with httpx.AsyncClient(timeout=120) as client:

            async def one(site: str) -> None:
                base, headers = self._admin(site)
                async with limit:
                    documents = await client.get(
                        f"{base}/documents/entries",
                        params={"include_deleted": "true"},
                        headers=headers,
                    )
                    stats = await client.get(f"{base}/stats", headers=headers)
                documents.raise_for_status()
                stats.raise_for_status()
                puts = sum(
                    int(r["count"]) for r in stats.json()["requests"] if r["method"] == "PUT"
                )
                held[site] = SiteHolding(documents.json(), puts)

            await asyncio.gather(*(one(site) for site in sites))
        return held


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (Nightscout's api-secret header)


@dataclass
class SiteHolding:
    documents: list[dict[str, Any]]
    puts: int

    def created(self) -> dict[str, int]:
        """identifier -> srvCreated (the first of them, should one be stored twice)."""
        out: dict[str, int] = {}
        for document in self.documents:
            identifier = str(document["identifier"])
            out[identifier] = min(out.get(identifier, 1 << 62), int(document["srvCreated"]))
        return out

    @property
    def duplicates(self) -> int:
        return len(self.documents) - len({str(d["identifier"]) for d in self.documents})


def write_config(
    path: Path,
    bootstrap: str,
    prefix: str,
    partitions: int,
    sites: dict[str, dict[str, str]],
    state_dir: Path,
) -> None:
    """A nightstream TOML file: every site a target, one link per site."""
    lines = [
        'log_level = "INFO"',
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        f'topic_prefix = "{prefix}"',
        f"partitions = {partitions}",
        "[sink]",
        f'state_dir = "{state_dir}"',
    ]
    for name, entry in sites.items():
        lines += [f"[targets.{name}]", f'url = "{entry["url"]}"', f'token = "{entry["token"]}"']
    for name in sites:
        lines += [
            "[[links]]",
            f'id = "{link_of(name)}"',
            'vendor = "dexcomshare"',
            'username = "bench"',
            'password = "bench"',
            'region = "us"',
            f'targets = ["{name}"]',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def create_topics(bootstrap: str, prefix: str, partitions: int) -> None:
    await ensure_topics(bootstrap, topic_catalog(prefix, partitions=partitions))


async def bind_streams(bootstrap: str, prefix: str, sites: Sequence[str]) -> None:
    """Each site's link bound to its stream, as the processor records it on a first payload."""
    topic = TopicNames(prefix).bindings
    serde = make_serde("stream_binding", subject=f"{topic}-value")
    producer = kafka_producer(bootstrap, acks="all", linger_ms=10)
    await producer.start()
    try:
        sent = []
        for site in sites:
            binding = StreamBinding(link_of(site), "dexcomshare", stream_of(site), bound_at_ms=0)
            sent.append(
                await producer.send(
                    topic, serde.encode(binding.to_avro()), key=link_of(site).encode()
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


@dataclass
class Produced:
    """One document: its site, cycle, identifier and Kafka acknowledgement time (epoch ms)."""

    site: str
    cycle: int
    identifier: str
    acked_ms: int = 0


@dataclass
class SteadyProducer:
    """One reading per stream per simulated 5 minutes, ``speed`` times faster than real time.

    Streams take turns at a fixed phase (a shuffled order), as links polled at different
    moments do, so documents arrive at an even rate: streams / (300 s / speed) per second."""

    bootstrap: str
    prefix: str
    partitions: int
    sites: Sequence[str]
    speed: float
    first_date_ms: int
    produced: list[Produced] = field(default_factory=list)

    async def run(self, cycles: Sequence[int], speed: float | None = None) -> None:
        """Produce the given cycles' readings, each cycle over 300 s / speed of real time."""
        order = list(self.sites)
        random.Random(5).shuffle(order)
        interval = FIVE_MINUTES_MS / 1000 / (speed or self.speed)
        serde = make_serde(Collection.ENTRIES.schema_name, subject="bench")
        topic = TopicNames(self.prefix).ns(Collection.ENTRIES)
        producer = kafka_producer(self.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        pending: list[asyncio.Future[Any]] = []
        try:
            for cycle in cycles:
                began = time.monotonic()
                for due, (i, site) in _paced(order, began, interval):
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    record = self._reading(site, cycle, i, len(order))
                    entry = Produced(site, cycle, record.identifier)
                    future = await producer.send(
                        topic,
                        serde.encode(to_avro(record)),
                        key=record.identifier.encode(),
                        partition=stream_partition(record.stream, self.partitions),
                    )
                    future.add_done_callback(lambda _f, e=entry: _stamp(e))
                    pending.append(future)
                    self.produced.append(entry)
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    def _reading(self, site: str, cycle: int, phase: int, count: int) -> NsRecord:
        stream = stream_of(site)
        date = self.first_date_ms + cycle * FIVE_MINUTES_MS + phase * FIVE_MINUTES_MS // count
        document = {
            "device": stream,
            "date": date,
            "type": "sgv",
            "sgv": 80 + (cycle * 7 + phase) % 150,
            "direction": "Flat",
            "app": "nightstream",
            "utcOffset": 0,
            "identifier": entry_identifier(stream, date, "sgv"),
        }
        return NsRecord(Collection.ENTRIES, stream, document)


def _paced(
    order: Sequence[str], began: float, interval: float
) -> Iterator[tuple[float, tuple[int, str]]]:
    """(due time, (phase, site)), batched per tick so a tick's documents leave together."""
    step = interval / len(order)
    for i, site in enumerate(order):
        due = began + i * step
        yield began + (due - began) // TICK_SECONDS * TICK_SECONDS, (i, site)


def _stamp(entry: Produced) -> None:
    entry.acked_ms = time.time_ns() // 1_000_000


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latencies_s(produced: Sequence[Produced], held: dict[str, SiteHolding]) -> list[float]:
    created = {site: holding.created() for site, holding in held.items()}
    out = []
    for entry in produced:
        at = created.get(entry.site, {}).get(entry.identifier)
        if at is not None:
            out.append((at - entry.acked_ms) / 1000)
    return out


class SinkChild:
    """``bench.delivery_child`` (the sink role, counters in a file) as a child process."""

    def __init__(self, config: Path, workdir: Path) -> None:
        self._counters = workdir / "sink-counters.json"
        self.stalls = workdir / "sink-stalls.jsonl"
        self._child = Child.start(
            "sink",
            [
                "-m",
                "bench.delivery_child",
                "--config",
                str(config),
                "--counters",
                str(self._counters),
                "--stalls",
                str(self.stalls),
            ],
            workdir,
        )

    def counters(self) -> dict[str, Any]:
        if self._child.process.poll() is not None:
            raise RuntimeError(f"the sink exited:\n{self._child.tail()}")
        try:
            data: dict[str, Any] = json.loads(self._counters.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data

    async def wait_written(self, total: int, limit: float) -> dict[str, Any]:
        """Until the sites acknowledged ``total`` documents in all (written or unchanged)."""
        deadline = time.monotonic() + limit
        while True:
            now = self.counters()
            if now.get("written", 0) + now.get("skipped_unchanged", 0) >= total:
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(f"sites acknowledged {now.get('written')} of {total}")
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._child.stop()

    def tail(self) -> str:
        return self._child.tail()


@dataclass
class DeliveryRun:
    """Sites, topics, bindings, config and the sink child of one benchmark run."""

    server: SiteServer
    sink: SinkChild
    producer: SteadyProducer

    @property
    def names(self) -> list[str]:
        return list(self.server.sites)

    async def deliver(
        self, cycles: Sequence[int], *, absent: int = 0, limit: float, speed: float | None = None
    ) -> None:
        """Produce ``cycles`` (at ``speed``, default the run's) and wait until the sites
        acknowledged everything produced so far but ``absent`` documents (those of a site
        that cannot answer)."""
        await self.producer.run(cycles, speed)
        await self.sink.wait_written(len(self.producer.produced) - absent, limit)

    def load(self) -> list[float]:
        return [round(x, 2) for x in os.getloadavg()]


@contextlib.asynccontextmanager
async def delivery_run(
    bootstrap: str, sites: int, partitions: int, speed: float, cycles: int, workdir: Path
) -> AsyncIterator[DeliveryRun]:
    prefix = unique_prefix("delivery")
    with SiteServer(sites, workdir) as server:
        print(f"{sites} sites hosted after {server.started_s:.1f} s", file=sys.stderr)
        await create_topics(bootstrap, prefix, partitions)
        await bind_streams(bootstrap, prefix, list(server.sites))
        config = workdir / "nightstream.toml"
        write_config(config, bootstrap, prefix, partitions, server.sites, workdir / "state")
        sink = SinkChild(config, workdir)
        try:
            first = time.time_ns() // 1_000_000 - cycles * FIVE_MINUTES_MS
            producer = SteadyProducer(
                bootstrap, prefix, partitions, list(server.sites), speed, first
            )
            yield DeliveryRun(server, sink, producer)
        finally:
            sink.stop()
            kept = Path(tempfile.gettempdir()) / f"{prefix}-sink.log"
            shutil.copyfile(workdir / "sink.log", kept)
            print(f"the sink's log: {kept}", file=sys.stderr)


def process_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

"""Sink throughput against its ceiling: plain httpx PUTs vs. the sink (``DeliverySink``, as
``nightstream sink`` runs it) from Kafka, for one site.

    .venv/bin/python -m bench.sink_throughput [--docs 20000] [--bootstrap HOST:PORT]

(a) ceiling: the documents PUT straight to a fresh test server with plain httpx, at each
    concurrency of --concurrency; the best one counts.
(b) sink: the fan-out sink with one site (its client's max_concurrency = the best ceiling
    concurrency) in a child process reads the documents from fresh ``ns.*`` topics and writes
    them to another fresh test server. (``replay`` runs the same sink, bounded, for one site:
    its figure is ``replay_throughput``'s.)

The test server always runs in its own process. The sink's peak RSS is the child's ru_maxrss
from ``os.wait4`` on that child (exactly that process, not other children).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    TestServerProcess,
    child_env,
    kafka_broker,
    machine,
    produce,
    table,
    unique_prefix,
    write_results,
)
from nightstream.schemas.documents import Collection, NsRecord, to_avro
from nightstream.schemas.identity import (
    device_name,
    entry_identifier,
    nightscout_identifier,
    stream_digest,
)
from nightstream.schemas.records import StreamBinding
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.delivery.delivery_sink import DeliveryConfig, DeliverySink
from nightstream.sinks.nightscout.delivery.site_writer import Outcome, site_writer
from nightstream.topics_admin import ensure_topics

LINK = "bench"
STREAM = device_name("dexcomshare", stream_digest("bench-account"))
START_MS = 1_790_000_000_000
FIVE_MINUTES = 300_000


def _date_string(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def make_documents(count: int) -> list[NsRecord]:
    """90 % sgv entries, 5 % treatments, 5 % devicestatus; every identifier distinct."""
    records: list[NsRecord] = []
    # One stream, as one link reads it: ``replay --link bench`` replays all of it.
    device = STREAM
    for n in range(count):
        date = START_MS - n * FIVE_MINUTES
        common = {
            "date": date,
            "utcOffset": -240,
            "device": device,
            "app": "nightstream",
        }
        kind = n % 20
        if kind == 0:
            event = "Carb Correction"
            document = {
                **common,
                "eventType": event,
                "carbs": 10 + n % 40,
                "created_at": _date_string(date),
                "identifier": nightscout_identifier(device, date, event),
            }
            records.append(NsRecord(Collection.TREATMENTS, STREAM, document))
        elif kind == 1:
            document = {
                **common,
                "created_at": _date_string(date),
                "uploader": {"battery": 50 + n % 50},
                "identifier": nightscout_identifier(device, date, "devicestatus"),
            }
            records.append(NsRecord(Collection.DEVICESTATUS, STREAM, document))
        else:
            document = {
                **common,
                "type": "sgv",
                "sgv": 60 + n % 250,
                "dateString": _date_string(date),
                "trend": 4,
                "direction": "Flat",
                "identifier": entry_identifier(device, date, "sgv"),
            }
            records.append(NsRecord(Collection.ENTRIES, STREAM, document))
    return records


async def publish(bootstrap: str, prefix: str, records: Sequence[NsRecord]) -> None:
    names = TopicNames(prefix)
    await ensure_topics(bootstrap, topic_catalog(prefix, partitions=3))
    serdes = {
        c: make_serde(c.schema_name, subject=f"{names.ns(c)}-value", registry=None)
        for c in Collection
    }
    binding = StreamBinding(LINK, "dexcomshare", STREAM, bound_at_ms=START_MS)
    binding_serde = make_serde("stream_binding", subject=f"{names.bindings}-value")
    await produce(
        bootstrap,
        [(names.bindings, LINK.encode(), binding_serde.encode(binding.to_avro()))]
        + [
            (
                names.ns(r.collection),
                r.identifier.encode(),
                serdes[r.collection].encode(to_avro(r)),
            )
            for r in records
        ],
    )


async def ceiling(
    server: TestServerProcess, records: Sequence[NsRecord], concurrency: int
) -> float:
    """docs/s of ``concurrency`` workers PUTting with one pooled httpx client."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        answer = await client.get(f"/api/v2/authorization/request/{server.token}")
        answer.raise_for_status()
        headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        bodies = [
            (f"/api/v3/{r.collection.value}/{r.identifier}", json.dumps(r.document).encode())
            for r in records
        ]
        work = iter(bodies)
        failures: list[int] = []

        async def worker() -> None:
            for path, body in work:
                response = await client.put(
                    path,
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                if response.status_code not in (200, 201):
                    failures.append(response.status_code)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} PUTs failed, e.g. HTTP {failures[0]}")
    return len(records) / elapsed


# --- the sink, in a child process -------------------------------------------------------------


async def sink_child(arguments: argparse.Namespace) -> dict[str, Any]:
    client = NightscoutClient(
        NightscoutTargetConfig(
            name="bench",
            base_url=arguments.url,
            access_token=arguments.token,
            max_concurrency=arguments.concurrency,
        )
    )
    write = site_writer(client)
    first_write: list[float] = []

    async def timed_write(collection: Collection, docs: Sequence[NsRecord]) -> list[Outcome]:
        if not first_write:
            first_write.append(time.perf_counter())
        return await write(collection, docs)

    sink = DeliverySink(
        DeliveryConfig(
            bootstrap_servers=arguments.bootstrap,
            topic_prefix=arguments.prefix,
            sites={"b": frozenset({LINK})},
            state_dir=Path("sink-state"),
        ),
        {"b": timed_write},
    )
    stats = sink.lanes["b"].stats
    stop = asyncio.Event()
    started = time.perf_counter()
    await sink.start()
    running = asyncio.create_task(sink.run(stop))
    deadline = started + 300
    while stats.written + stats.rejected < arguments.docs:
        if running.done() or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.02)
    finished = time.perf_counter()
    stop.set()
    await running
    await sink.stop()
    await client.aclose()
    return {
        "written": stats.written,
        "rejected": stats.rejected,
        "seconds_total": finished - started,
        "seconds_to_first_write": (first_write[0] if first_write else finished) - started,
        "seconds_writing": finished - (first_write[0] if first_write else started),
        "maxrss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


@dataclass
class SinkRun:
    result: dict[str, Any]
    maxrss_kib: int


def run_sink_process(
    bootstrap: str, prefix: str, server: TestServerProcess, concurrency: int, docs: int, cwd: Path
) -> SinkRun:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.sink_throughput",
            "_sink-child",
            "--bootstrap",
            bootstrap,
            "--prefix",
            prefix,
            "--url",
            server.url,
            "--token",
            server.token,
            "--concurrency",
            str(concurrency),
            "--docs",
            str(docs),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=child_env(),
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"sink child failed ({process.returncode}): {output[-2000:]}")
    return SinkRun(json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss)


async def ceiling_sweep(
    workdir: Path, sample: Sequence[NsRecord], concurrencies: Sequence[int]
) -> dict[int, float]:
    """Direct-PUT docs/s of ``sample`` at each concurrency, each on a fresh test server."""
    sweep: dict[int, float] = {}
    for concurrency in concurrencies:
        with TestServerProcess(workdir) as server:
            sweep[concurrency] = await ceiling(server, sample, concurrency)
        print(f"sweep c={concurrency}: {sweep[concurrency]:.0f} docs/s ({len(sample)} docs)")
    return sweep


async def main(arguments: argparse.Namespace) -> None:
    records = make_documents(arguments.docs)
    by_collection = {c.value: sum(r.collection is c for r in records) for c in Collection}
    prefix = unique_prefix("sink")
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp,
    ):
        workdir = Path(tmp)
        await publish(bootstrap, prefix, records)
        print(f"published {len(records)} documents {by_collection} to {prefix}.ns.*")

        sample = records[: arguments.sweep_docs]
        sweep: dict[int, float] = {}
        if not arguments.sink_only:
            sweep = await ceiling_sweep(workdir, sample, arguments.concurrency)
        best = max(sweep, key=lambda c: sweep[c]) if sweep else arguments.concurrency[0]
        ceiling_rate: float | None = None
        if not arguments.sink_only:
            with TestServerProcess(workdir) as server:
                ceiling_rate = await ceiling(server, records, best)
                ceiling_puts = await server.put_count()
            print(f"ceiling c={best}: {ceiling_rate:.0f} docs/s ({ceiling_puts} PUTs)")

        with TestServerProcess(workdir) as server:
            run = await asyncio.to_thread(
                run_sink_process, bootstrap, prefix, server, best, len(records), workdir
            )
            puts = await server.put_count()
            stored = sum([await server.document_count(c.value) for c in Collection])

    result = run.result
    sink_rate = result["written"] / result["seconds_total"]
    sink_steady = result["written"] / result["seconds_writing"]
    ratio = sink_rate / ceiling_rate if ceiling_rate else None
    ratio_steady = sink_steady / ceiling_rate if ceiling_rate else None
    data = {
        "machine": machine(),
        "docs": len(records),
        "by_collection": by_collection,
        "sweep_docs": len(sample) if sweep else 0,
        "sweep_docs_per_s": {str(c): round(r, 1) for c, r in sweep.items()},
        "best_concurrency": best,
        "ceiling_docs_per_s": round(ceiling_rate, 1) if ceiling_rate else None,
        "sink": {
            **result,
            "max_concurrency": best,
            "docs_per_s_total": round(sink_rate, 1),
            "docs_per_s_after_first_write": round(sink_steady, 1),
            "server_puts": puts,
            "server_documents": stored,
            "peak_rss_mib": round(run.maxrss_kib / 1024, 1),
            "peak_rss_source": "os.wait4() rusage of the sink child process (ru_maxrss)",
        },
        "ratio_sink_to_ceiling": round(ratio, 3) if ratio else None,
        "ratio_sink_after_first_write_to_ceiling": round(ratio_steady, 3) if ratio_steady else None,
    }
    name = "sink_throughput" if arguments.docs == 20_000 else f"sink_throughput_{arguments.docs}"
    path = write_results(name, data)
    rows = [("documents", f"{len(records)} {by_collection}")]
    rows += [(f"sweep c={c} ({len(sample)} docs)", f"{r:8.0f} docs/s") for c, r in sweep.items()]
    if ceiling_rate:
        rows.append((f"ceiling c={best}", f"{ceiling_rate:8.0f} docs/s"))
    rows += [
        (f"sink c={best} total", f"{sink_rate:8.0f} docs/s  ({result['seconds_total']:.1f} s)"),
        ("sink after 1st write", f"{sink_steady:8.0f} docs/s"),
        ("sink startup", f"{result['seconds_to_first_write']:.1f} s to the first write"),
    ]
    if ratio and ratio_steady:
        rows.append(("sink / ceiling", f"{ratio:.2f} (after 1st write {ratio_steady:.2f})"))
    rows += [
        ("sink peak RSS", f"{run.maxrss_kib / 1024:.0f} MiB (wait4 ru_maxrss of the child)"),
        ("server PUTs / stored", f"{puts} / {stored}"),
    ]
    print(table(rows))
    print(f"wrote {path}")
    if result["written"] != len(records) or stored != len(records):
        raise SystemExit("the sink did not store every document")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sink_throughput")
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[4, 8, 16, 32],
        help="comma-separated ceiling concurrencies (default 4,8,16,32)",
    )
    parser.add_argument(
        "--sweep-docs",
        type=int,
        default=5000,
        help="documents per concurrency in the sweep (the best one then PUTs all --docs)",
    )
    parser.add_argument(
        "--sink-only",
        action="store_true",
        help="no ceiling: only the sink, at the first --concurrency (for the memory figure)",
    )
    child = sub.add_parser("_sink-child", help=argparse.SUPPRESS)
    child.add_argument("--bootstrap", required=True)
    child.add_argument("--prefix", required=True)
    child.add_argument("--url", required=True)
    child.add_argument("--token", required=True)
    child.add_argument("--concurrency", type=int, required=True)
    child.add_argument("--docs", type=int, required=True)
    return parser.parse_args(argv)


if __name__ == "__main__":
    parsed = parse_arguments()
    if parsed.command == "_sink-child":
        print(json.dumps(asyncio.run(sink_child(parsed))), flush=True)
    else:
        asyncio.run(main(parsed))

"""Processor throughput against a batching aiokafka pass-through, on the same raw topic and broker.

    .venv/bin/python -m bench.processor_throughput [--steady 30000] [--backfill 600]

Two workloads, each in a fresh ``raw.dexcomshare`` topic, each run through (a) then (b):

- steady: S payloads of one new reading each, what a poll returns at steady state (one reading
  every 5 minutes per link), over L links (default 1000: their stream bindings are written on
  their first polls, as in a running deployment); a raw record and a reading are the same unit;
- backfill: B payloads of a full 288-reading 24 h window each (a new link, or after an outage).

(a) ``nightstream process`` as a subprocess: time from launch until ``ns.entries`` holds every
    reading (startup, the time until the first record appears, is reported too);
(b) ``bench.passthrough_app`` as a subprocess: the same raw topic re-published unchanged to
    another topic (batched: send all, await once, commit), until it holds every raw record.

The ratio is the processor's documents out per second over the pass-through's records out per
second: on steady the two units are the same (one reading per payload); on backfill it is the
issue's measure (a processor that keeps up with the raw records' rate in documents).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Child,
    kafka_broker,
    machine,
    produce,
    table,
    unique_prefix,
    wait_until,
    write_results,
)
from nightstream.kafka_offsets import records_in
from nightstream.schemas.identity import stream_digest
from nightstream.schemas.records import RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames, TopicSpec, topic_catalog
from nightstream.topics_admin import ensure_topics

READINGS = 288
NOW_MS = 1_790_000_000_000
FIVE_MINUTES = 300_000
PARTITIONS = 3


def share_body(seed: int, readings: int = READINGS, newest_ms: int = NOW_MS) -> bytes:
    """A ReadPublisherLatestGlucoseValues answer: ``readings`` readings, newest first."""
    items = []
    for i in range(readings):
        ms = newest_ms - i * FIVE_MINUTES
        items.append(
            {
                "WT": f"Date({ms})",
                "ST": f"Date({ms})",
                "DT": f"Date({ms}-0400)",
                "Value": 70 + (seed * 7 + i * 3) % 200,
                "Trend": "Flat",
            }
        )
    return json.dumps(items).encode()


def raw_payloads(count: int, readings: int = READINGS, links: int = 0) -> list[RawPayload]:
    """``count`` payloads of ``readings`` readings each, every payload its own link and stream;
    or, with ``links``, ``count`` polls spread over that many links, each poll of a link one
    reading newer than its last (steady state: one new reading per poll)."""
    links = links or count
    return [
        RawPayload(
            link_id=f"bench-{n % links:05d}",
            vendor="dexcomshare",
            endpoint="Publisher/ReadPublisherLatestGlucoseValues",
            fetched_at_ms=NOW_MS + n // links * FIVE_MINUTES,
            http_status=200,
            body=share_body(n % links, readings, NOW_MS + n // links * FIVE_MINUTES),
            poller_version="bench",
            request_params={
                "minutes": "1440",
                "maxCount": str(readings),
                "region": "us",
                "stream": stream_digest(f"bench-account-{n % links}"),
            },
            window_start_ms=NOW_MS + n // links * FIVE_MINUTES - 1440 * 60_000,
            window_end_ms=NOW_MS + n // links * FIVE_MINUTES,
        )
        for n in range(count)
    ]


async def run_until(
    child_args: list[str], name: str, workdir: Path, bootstrap: str, topic: str, expected: int
) -> dict[str, float]:
    """Launch a child; time until ``topic`` has its first record and until it has ``expected``."""
    started = time.monotonic()
    child = Child.start(name, child_args, workdir)
    first: list[float] = []

    async def complete() -> bool:
        if child.process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{child.tail()}")
        count = await records_in(bootstrap, topic)
        if count and not first:
            first.append(time.monotonic())
        return count >= expected

    try:
        done = await wait_until(complete, limit=240, what=f"{name} to fill {topic}", interval=0.1)
        cpu = cpu_seconds(child.process.pid)
    finally:
        child.stop()
    total = done - started
    startup = first[0] - started
    return {"seconds_total": total, "seconds_to_first_record": startup, "cpu_seconds": cpu}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far (Linux ``/proc/<pid>/stat``): how
    much of the machine it needed, whatever else was running."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


async def run_workload(
    bootstrap: str,
    workdir: Path,
    shape: str,
    payloads: list[RawPayload],
    per_payload: int,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Processor then pass-through over one fresh raw topic; their rates and ratio."""
    readings = len(payloads) * per_payload
    prefix = unique_prefix(f"proc-{shape}")
    names = TopicNames(prefix)
    raw_topic = names.raw("dexcomshare")
    passthrough_topic = f"{prefix}.bench.passthrough"
    serde = make_serde("raw_payload", subject=f"{raw_topic}-value", registry=None)
    specs = topic_catalog(prefix, partitions=PARTITIONS)
    specs.append(TopicSpec(passthrough_topic, "raw_payload", PARTITIONS, "delete", -1))
    await ensure_topics(bootstrap, specs)
    await produce(
        bootstrap, [(raw_topic, p.link_id.encode(), serde.encode(p.to_avro())) for p in payloads]
    )
    print(f"{shape}: {len(payloads)} payloads ({readings} readings) in {raw_topic}")
    config = workdir / f"{shape}.toml"
    config.write_text(
        "\n".join(
            [
                'log_level = "WARNING"',
                "[kafka]",
                f'bootstrap_servers = "{bootstrap}"',
                f'topic_prefix = "{prefix}"',
                f"partitions = {PARTITIONS}",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    launcher = ["-m"]
    if profile is not None:
        launcher = ["-m", "bench.cpu_profile", str(profile / f"processor-{shape}.prof")]
    processor = await run_until(
        [*launcher, "nightstream.cli", "process", "--config", str(config)],
        f"processor-{shape}",
        workdir,
        bootstrap,
        f"{prefix}.ns.entries",
        readings,
    )
    passthrough_args = ["--bootstrap", bootstrap, "--app-id", f"{prefix}-passthrough"]
    passthrough_args += ["--source", raw_topic, "--sink", passthrough_topic]
    passthrough = await run_until(
        ["-m", "bench.passthrough_app", *passthrough_args],
        f"passthrough-{shape}",
        workdir,
        bootstrap,
        passthrough_topic,
        len(payloads),
    )

    def rates(timing: dict[str, float]) -> dict[str, Any]:
        steady = timing["seconds_total"] - timing["seconds_to_first_record"]
        records_after = round(len(payloads) / steady, 1) if steady else None
        return {
            **{k: round(v, 2) for k, v in timing.items()},
            "payloads_per_s": round(len(payloads) / timing["seconds_total"], 1),
            "readings_per_s": round(readings / timing["seconds_total"], 1),
            "readings_per_s_after_first_record": round(readings / steady, 1) if steady else None,
            "records_per_s_after_first_record": records_after,
            "cpu_ms_per_payload": round(timing["cpu_seconds"] * 1000 / len(payloads), 3),
            "cpu_ms_per_reading": round(timing["cpu_seconds"] * 1000 / readings, 4),
        }

    proc, passing = rates(processor), rates(passthrough)
    after = (
        proc["readings_per_s_after_first_record"],
        passing["records_per_s_after_first_record"],
    )
    return {
        "payloads": len(payloads),
        "readings_per_payload": per_payload,
        "readings": readings,
        "processor": proc,
        "passthrough": passing,
        "ratio_documents_to_passthrough_records_per_s": round(
            proc["readings_per_s"] / passing["payloads_per_s"], 3
        ),
        "ratio_after_first_record": round(after[0] / after[1], 3) if all(after) else None,
    }


def summary_rows(shape: str, result: dict[str, Any]) -> list[tuple[str, str]]:
    proc, passing = result["processor"], result["passthrough"]
    after = result["ratio_after_first_record"]
    return [
        (
            f"{shape}: input",
            f"{result['payloads']} payloads x {result['readings_per_payload']} "
            f"= {result['readings']} readings",
        ),
        (
            f"{shape}: processor",
            f"{proc['readings_per_s']:8.0f} readings/s  ({proc['seconds_total']:.1f} s, "
            f"first record after {proc['seconds_to_first_record']:.1f} s, "
            f"{proc['cpu_seconds']:.1f} s CPU)",
        ),
        (
            f"{shape}: pass-through",
            f"{passing['payloads_per_s']:8.0f} records/s ({passing['seconds_total']:.1f} s, "
            f"first after {passing['seconds_to_first_record']:.1f} s, "
            f"{passing['cpu_seconds']:.1f} s CPU)",
        ),
        (
            f"{shape}: processor documents/s / pass-through records/s",
            f"{result['ratio_documents_to_passthrough_records_per_s']:.3f} "
            f"(after the first record: {after if after is not None else 'n/a'})",
        ),
    ]


async def main(arguments: argparse.Namespace) -> None:
    workloads = {
        "steady": (raw_payloads(arguments.steady, 1, arguments.links), 1),
        "backfill": (raw_payloads(arguments.backfill), READINGS),
    }
    results: dict[str, Any] = {"machine": machine(), "partitions": PARTITIONS}
    rows: list[tuple[str, str]] = []
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-proc-") as tmp,
    ):
        for shape, (payloads, per_payload) in workloads.items():
            if not payloads:
                continue
            result = await run_workload(
                bootstrap, Path(tmp), shape, payloads, per_payload, arguments.profile
            )
            results[shape] = result
            rows += summary_rows(shape, result)
    results["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    path = write_results(arguments.results, results)
    print(table(rows))
    print(f"wrote {path}")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.processor_throughput")
    parser.add_argument("--steady", type=int, default=30000, help="one-reading payloads")
    parser.add_argument("--backfill", type=int, default=600, help="288-reading payloads")
    parser.add_argument("--links", type=int, default=1000, help="links the steady polls cycle")
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--results", default="processor_throughput", help="bench/results/NAME.json")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the processor under cProfile (CPU time: bench/cpu_profile.py), stats to "
        "DIR/processor-<workload>.prof (its rates are then the profiler's, not the processor's)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_arguments(sys.argv[1:])))

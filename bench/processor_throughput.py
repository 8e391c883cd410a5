"""Processor throughput against a pass-through faust agent, on the same raw topic and broker.

    .venv/bin/python -m bench.processor_throughput [--payloads 500] [--bootstrap HOST:PORT]

M raw Dexcom Share payloads (each a 288-reading 24 h window, each its own stream, so every
reading is new) go into a fresh ``raw.dexcomshare`` topic. Then, one after the other:

(a) ``nightstream process`` as a subprocess: time from launch until ``ns.entries`` holds all
    M x 288 readings (startup, the time until the first record appears, is reported too);
(b) ``bench.passthrough_app`` as a subprocess: the same raw topic re-published unchanged to
    another topic, until it holds all M records.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from nightstream.topics_admin import ensure_topics
from schemas.identity import stream_digest
from schemas.records import RawPayload
from schemas.serde import make_serde
from schemas.topics import TopicNames, TopicSpec, topic_catalog

READINGS = 288
NOW_MS = 1_790_000_000_000
FIVE_MINUTES = 300_000
PARTITIONS = 3


def share_body(seed: int) -> bytes:
    """A ReadPublisherLatestGlucoseValues answer: 288 readings, newest first."""
    items = []
    for i in range(READINGS):
        ms = NOW_MS - i * FIVE_MINUTES
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


def raw_payloads(count: int) -> list[RawPayload]:
    return [
        RawPayload(
            link_id=f"bench-{n:05d}",
            vendor="dexcomshare",
            endpoint="Publisher/ReadPublisherLatestGlucoseValues",
            fetched_at_ms=NOW_MS,
            http_status=200,
            body=share_body(n),
            poller_version="bench",
            request_params={
                "minutes": "1440",
                "maxCount": str(READINGS),
                "region": "us",
                "stream": stream_digest(f"bench-account-{n}"),
            },
            window_start_ms=NOW_MS - 1440 * 60_000,
            window_end_ms=NOW_MS,
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
    finally:
        child.stop()
    total = done - started
    startup = first[0] - started
    return {"seconds_total": total, "seconds_to_first_record": startup}


async def main(arguments: argparse.Namespace) -> None:
    payloads = raw_payloads(arguments.payloads)
    readings = len(payloads) * READINGS
    prefix = unique_prefix("proc")
    names = TopicNames(prefix)
    raw_topic = names.raw("dexcomshare")
    passthrough_topic = f"{prefix}.bench.passthrough"
    serde = make_serde("raw_payload", subject=f"{raw_topic}-value", registry=None)
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-proc-") as tmp,
    ):
        workdir = Path(tmp)
        specs = topic_catalog(prefix, partitions=PARTITIONS)
        specs.append(TopicSpec(passthrough_topic, "raw_payload", PARTITIONS, "delete", -1))
        await ensure_topics(bootstrap, specs)
        await produce(
            bootstrap,
            [(raw_topic, p.link_id.encode(), serde.encode(p.to_avro())) for p in payloads],
        )
        print(f"{len(payloads)} payloads ({readings} readings) in {raw_topic}")

        config = workdir / "nightstream.toml"
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
        processor = await run_until(
            ["-m", "nightstream.cli", "process", "--config", str(config)],
            "processor",
            workdir,
            bootstrap,
            f"{prefix}.ns.entries",
            readings,
        )
        print(f"processor: {processor}")
        passthrough = await run_until(
            [
                "-m",
                "bench.passthrough_app",
                "--bootstrap",
                bootstrap,
                "--app-id",
                f"{prefix}-passthrough",
                "--source",
                raw_topic,
                "--sink",
                passthrough_topic,
                "--partitions",
                str(PARTITIONS),
            ],
            "passthrough",
            workdir,
            bootstrap,
            passthrough_topic,
            len(payloads),
        )
        print(f"pass-through: {passthrough}")

    def rates(timing: dict[str, float]) -> dict[str, Any]:
        steady = timing["seconds_total"] - timing["seconds_to_first_record"]
        return {
            **{k: round(v, 2) for k, v in timing.items()},
            "payloads_per_s": round(len(payloads) / timing["seconds_total"], 1),
            "readings_per_s": round(readings / timing["seconds_total"], 1),
            "readings_per_s_after_first_record": round(readings / steady, 1) if steady else None,
        }

    proc, passing = rates(processor), rates(passthrough)
    ratio = proc["readings_per_s"] / passing["readings_per_s"]
    steady_ratio = (
        proc["readings_per_s_after_first_record"] / passing["readings_per_s_after_first_record"]
        if proc["readings_per_s_after_first_record"]
        and passing["readings_per_s_after_first_record"]
        else None
    )
    data = {
        "machine": machine(),
        "payloads": len(payloads),
        "readings": readings,
        "partitions": PARTITIONS,
        "processor": proc,
        "passthrough": passing,
        "ratio_processor_to_passthrough_readings_per_s": round(ratio, 3),
        "ratio_after_first_record": round(steady_ratio, 3) if steady_ratio else None,
    }
    path = write_results("processor_throughput", data)
    print(
        table(
            [
                ("input", f"{len(payloads)} payloads x {READINGS} = {readings} readings"),
                (
                    "processor",
                    f"{proc['readings_per_s']:8.0f} readings/s  "
                    f"({proc['seconds_total']:.1f} s, first record after "
                    f"{proc['seconds_to_first_record']:.1f} s; "
                    f"{proc['readings_per_s_after_first_record']} readings/s after it)",
                ),
                (
                    "pass-through",
                    f"{passing['readings_per_s']:8.0f} readings/s equiv. "
                    f"({passing['payloads_per_s']} records/s, {passing['seconds_total']:.1f} s, "
                    f"first after {passing['seconds_to_first_record']:.1f} s)",
                ),
                (
                    "processor / pass-through",
                    f"{ratio:.3f} (after the first record: "
                    + (f"{steady_ratio:.3f})" if steady_ratio else "n/a)"),
                ),
            ]
        )
    )
    print(f"wrote {path}")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.processor_throughput")
    parser.add_argument("--payloads", type=int, default=500, help="M (default 500)")
    parser.add_argument("--bootstrap", default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_arguments(sys.argv[1:])))

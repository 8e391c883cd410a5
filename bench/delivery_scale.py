"""Delivery at clinic scale at steady state: Kafka reads per delivered document, latency, RSS.

    .venv/bin/python -m bench.delivery_scale [--sites 10000] [--speed 1] [--cycles 2]

N sites in one test server process (``--sites N``), one link and one stream per site. One
reading per stream per simulated 5 minutes is produced onto ``ns.entries`` in the stream's
partition, streams at fixed phases, so documents arrive evenly (``--speed`` times faster than
real time). The sink (``bench.delivery_child``: the role ``nightstream sink`` runs) delivers.

A warm-up cycle (``--warmup``) comes first: every site's first write exchanges its token
for a JWT, and the group's first join happens there. Then ``--cycles`` measured cycles, after
which the script waits until the sites acknowledged every document, and reports:

- records read per document acknowledged: the sink's own counters (live reads and catch-up
  reads) over what the sites acknowledged (written, or found unchanged), both over the measured
  cycles;
- latency per document: Kafka's acknowledgement of the produce to the site's ``srvCreated``;
- the sink's RSS (and peak) and CPU, the test server's RSS.
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

from bench.common import kafka_broker, machine, table, write_results
from bench.delivery_sites import delivery_run, latencies_s, percentile, process_rss_kib
from bench.tail_analysis import explain, read_timeline, slow_documents, summarise

SLOW_S = 1.0
"""Documents at least this late are explained from the stall timelines."""


async def measure(bootstrap: str, arguments: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    total_cycles = arguments.warmup + arguments.cycles
    async with delivery_run(
        bootstrap, arguments.sites, arguments.partitions, arguments.speed, total_cycles, workdir
    ) as run:
        began = time.monotonic()
        await run.deliver(
            range(arguments.warmup), limit=arguments.limit, speed=arguments.warmup_speed
        )
        warm = time.monotonic() - began
        before = run.sink.counters()
        load_before = run.load()
        print(f"warm-up done in {warm:.0f} s; measuring", file=sys.stderr)
        began = time.monotonic()
        measured_from = time.time()
        await run.deliver(range(arguments.warmup, total_cycles), limit=arguments.limit)
        measured_to = time.time()
        after = run.sink.counters()
        measured_s = time.monotonic() - began
        server_rss = process_rss_kib(run.server.pid)
        held = await run.server.holdings(run.names)
    produced = run.producer.produced
    steady = [p for p in produced if p.cycle >= arguments.warmup]
    latencies = latencies_s(steady, held)
    acknowledged = (after["written"] + after["skipped_unchanged"]) - (
        before["written"] + before["skipped_unchanged"]
    )
    delivered = len(latencies)
    sink_timeline = read_timeline(run.sink.stalls)
    server_timeline = read_timeline(run.server.stalls)
    for timeline, name in ((sink_timeline, "sink"), (server_timeline, "server")):
        kept = Path(__file__).parent / "results" / f"{arguments.results}_{name}_stalls.jsonl"
        kept.write_text("".join(json.dumps(line) + "\n" for line in timeline))
    reads = (after["read"] - before["read"]) + (after["catch_up_read"] - before["catch_up_read"])
    return {
        "sites": arguments.sites,
        "streams": arguments.sites,
        "partitions": arguments.partitions,
        "speed": arguments.speed,
        "warmup_speed": arguments.warmup_speed or arguments.speed,
        "documents_per_second": arguments.sites * arguments.speed / 300,
        "warmup_cycles": arguments.warmup,
        "measured_cycles": arguments.cycles,
        "warmup_s": warm,
        "measured_s": measured_s,
        "documents_produced": len(steady),
        "documents_delivered": delivered,
        "writes_acknowledged": acknowledged,
        "records_read_live": after["read"] - before["read"],
        "records_read_catch_up": after["catch_up_read"] - before["catch_up_read"],
        "records_read_per_document": reads / delivered if delivered else None,
        "latency_s": {
            "count": len(latencies),
            "p50": percentile(latencies, 0.50),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies, default=float("nan")),
        },
        "missing": len(steady) - len(latencies),
        "duplicates": sum(h.duplicates for h in held.values()),
        "sink_rss_mib": after["rss_kib"] / 1024,
        "sink_peak_rss_mib": after["peak_rss_kib"] / 1024,
        "sink_cpu_s_measured": after["cpu_s"] - before["cpu_s"],
        "sink_parks": after["parks"],
        "server_rss_mib": server_rss / 1024,
        "sink_stalls": summarise(sink_timeline, measured_from, measured_to),
        "server_stalls": summarise(server_timeline, measured_from, measured_to),
        "tail": explain(slow_documents(steady, held, SLOW_S), sink_timeline, server_timeline),
        "load_before": load_before,
        "load_after": run.load(),
    }


async def main(arguments: argparse.Namespace) -> None:
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp,
    ):
        result = await measure(bootstrap, arguments, Path(tmp))
    write_results(arguments.results, {"machine": machine(), **result})
    latency = result["latency_s"]
    print(
        table(
            [
                ("sites = streams", f"{result['sites']} ({result['partitions']} partitions)"),
                ("documents per second", f"{result['documents_per_second']:.0f}"),
                (
                    "measured",
                    f"{result['documents_produced']} docs in {result['measured_s']:.0f} s",
                ),
                ("records read per document", f"{result['records_read_per_document']:.3f}"),
                (
                    "writes acknowledged / documents",
                    f"{result['writes_acknowledged']} / {result['documents_delivered']}",
                ),
                (
                    "latency p50 / p99 / max",
                    f"{latency['p50']:.3f} / {latency['p99']:.3f} / {latency['max']:.3f} s",
                ),
                ("missing / duplicates", f"{result['missing']} / {result['duplicates']}"),
                (
                    "sink RSS / peak",
                    f"{result['sink_rss_mib']:.0f} / {result['sink_peak_rss_mib']:.0f} MiB",
                ),
                ("sink CPU (measured cycles)", f"{result['sink_cpu_s_measured']:.1f} s"),
                ("test server RSS", f"{result['server_rss_mib']:.0f} MiB"),
                ("load before / after", f"{result['load_before']} / {result['load_after']}"),
            ]
        )
    )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery_scale")
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument(
        "--warmup-speed", type=float, default=None, help="default: --speed (first writes)"
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--limit", type=float, default=900.0, help="seconds to wait per phase")
    parser.add_argument("--results", default="delivery_scale")
    parser.add_argument("--bootstrap", default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_arguments(sys.argv[1:])))

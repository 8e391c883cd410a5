"""One dead site among many: the others' latency with and without it, then its catch-up.

    .venv/bin/python -m bench.delivery_dead_site [--sites 1000] [--phase-seconds 600]

N sites (one stream each, as in ``bench.delivery_scale``), one sink, documents at a steady pace
(``--speed`` times real time), in one run:

1. warm-up: one cycle (every site's first write, token exchange, group join), at
   ``--warmup-speed``;
2. **baseline**: ``--phase-seconds`` of steady delivery with every site answering;
3. **dead**: ``--phase-seconds`` more while one site answers every request with 503 (its client
   retries, then the sink parks it and tries again with a growing backoff);
4. **heal**: its faults cleared; the script waits until it holds every document of its stream.

The others' p99 latency in phase 3 over phase 2 is the ratio (target <= 1.10); the healed site
must hold every document once: missing, unexpected and duplicates are counted from the site's
stored entries (deleted ones included), and its PUTs are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import kafka_broker, machine, table, write_results
from bench.delivery_sites import (
    FIVE_MINUTES_MS,
    DeliveryRun,
    Produced,
    SiteHolding,
    delivery_run,
    latencies_s,
    percentile,
)

DEAD_FAULTS = {"error_rate": 1.0, "error_statuses": [503]}


def phase_summary(
    produced: list[Produced], held: dict[str, SiteHolding], cycles: range, dead: str
) -> dict[str, Any]:
    others = [p for p in produced if p.cycle in cycles and p.site != dead]
    latencies = latencies_s(others, held)
    return {
        "cycles": [cycles.start, cycles.stop],
        "documents": len(others),
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
        "max_s": max(latencies, default=float("nan")),
        "missing": len(others) - len(latencies),
    }


async def heal(run: DeliveryRun, dead: str, limit: float) -> tuple[float, SiteHolding]:
    """Clear the dead site's faults; seconds until it holds every document of its stream."""
    expected = {p.identifier for p in run.producer.produced if p.site == dead}
    await run.server.set_faults(dead, None)
    began = time.monotonic()
    while True:
        holding = (await run.server.holdings([dead]))[dead]
        if {str(d["identifier"]) for d in holding.documents} >= expected:
            return time.monotonic() - began, holding
        if time.monotonic() - began > limit:
            return math.inf, holding
        await asyncio.sleep(1.0)


async def measure(bootstrap: str, arguments: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    per_phase = max(1, round(arguments.phase_seconds * arguments.speed * 1000 / FIVE_MINUTES_MS))
    warmup = range(0, 1)
    baseline = range(1, 1 + per_phase)
    dead_phase = range(baseline.stop, baseline.stop + per_phase)
    async with delivery_run(
        bootstrap, arguments.sites, arguments.partitions, arguments.speed, dead_phase.stop, workdir
    ) as run:
        dead = run.names[arguments.sites // 2]
        await run.deliver(warmup, limit=arguments.limit, speed=arguments.warmup_speed)
        load = [run.load()]
        print(f"baseline: {len(baseline)} cycle(s)", file=sys.stderr)
        await run.deliver(baseline, limit=arguments.limit)
        load.append(run.load())
        before_dead = run.sink.counters()
        await run.server.set_faults(dead, DEAD_FAULTS)
        print(f"dead: {len(dead_phase)} cycle(s), {dead} answers 503", file=sys.stderr)
        await run.deliver(dead_phase, absent=len(dead_phase), limit=arguments.limit)
        load.append(run.load())
        during_dead = run.sink.counters()
        caught_up_s, healed = await heal(run, dead, arguments.limit)
        after = run.sink.counters()
        load.append(run.load())
        held = await run.server.holdings(run.names)
    produced = run.producer.produced
    expected = {p.identifier for p in produced if p.site == dead}
    stored = {str(d["identifier"]) for d in healed.documents}
    base = phase_summary(produced, held, baseline, dead)
    with_dead = phase_summary(produced, held, dead_phase, dead)
    return {
        "sites": arguments.sites,
        "partitions": arguments.partitions,
        "speed": arguments.speed,
        "phase_seconds": arguments.phase_seconds,
        "dead_site": dead,
        "baseline": base,
        "with_dead_site": with_dead,
        "p99_ratio": with_dead["p99_s"] / base["p99_s"],
        "dead_site_parks": during_dead["parks"] - before_dead["parks"],
        "catch_up_records_read_while_dead": during_dead["catch_up_read"]
        - before_dead["catch_up_read"],
        "catch_up_records_read_healing": after["catch_up_read"] - during_dead["catch_up_read"],
        "healed": {
            "caught_up_s": caught_up_s,
            "expected": len(expected),
            "missing": len(expected - stored),
            "unexpected": len(stored - expected),
            "duplicates": healed.duplicates,
            "puts": healed.puts,
        },
        "others_duplicates": sum(h.duplicates for s, h in held.items() if s != dead),
        "sink_rss_mib": after["rss_kib"] / 1024,
        "sink_peak_rss_mib": after["peak_rss_kib"] / 1024,
        "load": load,
    }


async def main(arguments: argparse.Namespace) -> None:
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-dead-site-") as tmp,
    ):
        result = await measure(bootstrap, arguments, Path(tmp))
    write_results(arguments.results, {"machine": machine(), **result})
    base, dead, healed = result["baseline"], result["with_dead_site"], result["healed"]
    print(
        table(
            [
                ("sites, phase", f"{result['sites']}, {result['phase_seconds']:.0f} s each"),
                (
                    "others p50 / p99, baseline",
                    f"{base['p50_s']:.3f} / {base['p99_s']:.3f} s ({base['documents']} docs)",
                ),
                (
                    "others p50 / p99, one site dead",
                    f"{dead['p50_s']:.3f} / {dead['p99_s']:.3f} s ({dead['documents']} docs)",
                ),
                ("p99 ratio (dead / baseline)", f"{result['p99_ratio']:.3f}"),
                ("dead site parks", str(result["dead_site_parks"])),
                ("healed: caught up after", f"{healed['caught_up_s']:.1f} s"),
                (
                    "healed: expected / missing / unexpected / duplicates",
                    f"{healed['expected']} / {healed['missing']} / {healed['unexpected']} / "
                    f"{healed['duplicates']}",
                ),
                ("healed: PUTs answered (503s included)", str(healed["puts"])),
                ("load", str(result["load"])),
            ]
        )
    )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery_dead_site")
    parser.add_argument("--sites", type=int, default=1_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--speed", type=float, default=2.0)
    parser.add_argument("--warmup-speed", type=float, default=None, help="default: --speed")
    parser.add_argument("--phase-seconds", type=float, default=600.0)
    parser.add_argument("--limit", type=float, default=900.0, help="seconds to wait per phase")
    parser.add_argument("--results", default="delivery_dead_site")
    parser.add_argument("--bootstrap", default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_arguments(sys.argv[1:])))

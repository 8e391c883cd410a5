"""The fan-out sink as ``nightstream sink`` runs it, in a child process that also reports its
counters: ``python -m bench.delivery_child --config FILE --counters FILE``.

Every second (and once more when it stops) ``--counters`` gets, as JSON: records read by the
live readers and by catch-ups, what the sites acknowledged (written, skipped, rejected), parks,
the process's RSS and peak RSS, and its CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.stall_timeline import record_stalls
from nightstream.config import load_settings
from nightstream.roles import build_delivery_role, run_roles
from nightstream.sinks.nightscout.delivery.delivery_sink import DeliverySink

REPORT_EVERY_SECONDS = 1.0


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def counters(sink: DeliverySink | None) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report: dict[str, Any] = {
        "at": time.time(),
        "rss_kib": rss_kib(),
        "peak_rss_kib": usage.ru_maxrss,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
    if sink is None:
        return report
    lanes = sink.lanes.values()
    report |= {
        "read": sink.read,
        "catch_up_read": sink.catch_up_read,
        "unrouted": sink.unrouted,
        "written": sum(lane.stats.written for lane in lanes),
        "skipped_unchanged": sum(lane.stats.skipped_unchanged for lane in lanes),
        "superseded": sum(lane.stats.superseded for lane in lanes),
        "rejected": sum(lane.stats.rejected for lane in lanes),
        "parks": sum(lane.parks for lane in lanes),
    }
    return report


def main(arguments: argparse.Namespace) -> None:
    settings = load_settings(os.environ, arguments.config)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    sinks: list[DeliverySink] = []
    out: Path = arguments.counters

    def write_counters() -> None:
        temporary = out.with_suffix(".tmp")
        temporary.write_text(json.dumps(counters(sinks[-1] if sinks else None)))
        temporary.replace(out)

    async def report(stop: asyncio.Event) -> None:
        while not stop.is_set():
            write_counters()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=REPORT_EVERY_SECONDS)
        write_counters()

    async def watch_stalls(stop: asyncio.Event) -> None:
        watch = asyncio.create_task(record_stalls(arguments.stalls))
        await stop.wait()
        watch.cancel()

    role = build_delivery_role(settings, list(settings.targets), observe=sinks.append)
    roles = {"sink": role, "counters": report}
    if arguments.stalls is not None:
        roles["stalls"] = watch_stalls
    run_roles(roles)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.delivery_child")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--counters", type=Path, required=True)
    parser.add_argument("--stalls", type=Path, help="a stall timeline (bench.stall_timeline)")
    main(parser.parse_args(sys.argv[1:]))

"""The Tandem transform on simulated pump-log answers: size per day, time and memory per window.

    .venv/bin/python -m bench.tandem_transform [--days 1 3 7 28] [--repeat 3]

For each window length, one simulated pump's answer (every event type, as the simulator makes
it) is built once, then transformed ``--repeat`` times; the best time counts. Reported: answer
bytes (per day, and whether one Kafka message of 1 MiB holds it), events, documents, events/s
and the peak memory of the transform (tracemalloc, so Python allocations only). No broker.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from bench.common import machine, table, write_results
from nightstream.schemas.records import RawPayload
from nightstream.simulators.tandem.accounts import SimPump
from nightstream.simulators.tandem.events import PumpLog
from nightstream.sources.tandem.poll_source import MAX_PAYLOAD_BYTES
from nightstream.streams.tandem import transform

NOW_MS = 1_781_000_000_000
LAST_DAY = date(2026, 6, 8)


def answer(days: int) -> RawPayload:
    pump = SimPump("1234567", first_event_ms=NOW_MS - 60 * 86_400_000, daily_basal_events=True)
    events = PumpLog(pump, 1).events(LAST_DAY - timedelta(days=days - 1), LAST_DAY, NOW_MS)
    body = json.dumps({"events": events, "clockChanges": []}, separators=(",", ":")).encode()
    return RawPayload(
        link_id="bench",
        vendor="tandem",
        endpoint="pump-logs",
        fetched_at_ms=NOW_MS,
        http_status=200,
        body=body,
        poller_version="bench",
        request_params={"stream": "0123456789ab"},
        source_tz="America/New_York",
    )


def measure(days: int, repeat: int) -> dict[str, Any]:
    raw = answer(days)
    events = len(json.loads(raw.body)["events"])
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        output = transform(raw)
        best = min(best, time.perf_counter() - started)
    assert output.rejected == []
    tracemalloc.start()
    transform(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "days": days,
        "answer_bytes": len(raw.body),
        "bytes_per_day": len(raw.body) // days,
        "fits_one_message": len(raw.body) <= MAX_PAYLOAD_BYTES,
        "events": events,
        "documents": len(output.records),
        "seconds": round(best, 3),
        "events_per_second": round(events / best),
        "peak_mib": round(peak / 2**20, 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tandem_transform")
    parser.add_argument("--days", type=int, nargs="+", default=[1, 3, 7, 28])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs = [measure(days, args.repeat) for days in args.days]
    for run in runs:
        print(f"{run['days']} day(s):")
        print(table([(k, str(v)) for k, v in run.items() if k != "days"]))
    path = write_results("tandem_transform", {"machine": machine(), "runs": runs})
    print(f"results: {path}")


if __name__ == "__main__":
    main()

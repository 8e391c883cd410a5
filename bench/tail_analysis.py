"""What the slow deliveries of a delivery benchmark had in common: stalls of the sink's loop,
of the test server's loop, garbage collections, or the machine's load (``bench.stall_timeline``
timelines of both processes, joined to each slow document's time in flight)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.delivery_sites import Produced, SiteHolding

STALL_MS = 250.0
"""A second whose longest loop lag is at least this is a stall."""


@dataclass(frozen=True)
class SlowDocument:
    site: str
    acked_s: float
    latency_s: float


def slow_documents(
    produced: Sequence[Produced], held: dict[str, SiteHolding], threshold_s: float
) -> list[SlowDocument]:
    created = {site: holding.created() for site, holding in held.items()}
    out = []
    for entry in produced:
        at = created.get(entry.site, {}).get(entry.identifier)
        latency_s = (at - entry.acked_ms) / 1000 if at is not None else 0.0
        if latency_s >= threshold_s:
            out.append(SlowDocument(entry.site, entry.acked_ms / 1000, latency_s))
    return out


def read_timeline(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _window(timeline: Sequence[dict[str, Any]], begin: float, end: float) -> list[dict[str, Any]]:
    """The timeline's seconds that overlap [begin, end] (a line covers the second before it)."""
    return [t for t in timeline if begin <= t["at"] and t["at"] - 1.0 <= end]


def _worst(lines: Sequence[dict[str, Any]], key: str) -> float:
    return max((float(t[key]) for t in lines), default=0.0)


def summarise(timeline: Sequence[dict[str, Any]], begin: float, end: float) -> dict[str, Any]:
    lines = _window(timeline, begin, end)
    lags = sorted(float(t["lag_max_ms"]) for t in lines)
    return {
        "seconds": len(lines),
        "lag_max_ms_p50": lags[len(lags) // 2] if lags else math.nan,
        "lag_max_ms_p99": lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else math.nan,
        "lag_max_ms_max": lags[-1] if lags else math.nan,
        "seconds_stalled": sum(lag >= STALL_MS for lag in lags),
        "gc_ms_total": round(sum(float(t["gc_ms"]) for t in lines), 1),
        "gc_max_ms": _worst(lines, "gc_max_ms"),
        "gc_gen2": sum(int(t["gc_gen2"]) for t in lines),
        "cpu_s": round(sum(float(t["cpu_ms"]) for t in lines) / 1000, 1),
        "load1_min_max": [
            min((float(t["load1"]) for t in lines), default=math.nan),
            _worst(lines, "load1"),
        ],
    }


def explain(
    slow: Sequence[SlowDocument],
    sink: Sequence[dict[str, Any]],
    server: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """For each slow document: the longest lag of each loop while it was in flight."""
    counts = {"sink_stalled": 0, "server_stalled": 0, "both": 0, "neither": 0}
    sink_gc = 0
    rows: list[dict[str, Any]] = []
    for document in slow:
        end = document.acked_s + document.latency_s
        sink_lines = _window(sink, document.acked_s, end)
        server_lines = _window(server, document.acked_s, end)
        sink_lag = _worst(sink_lines, "lag_max_ms")
        server_lag = _worst(server_lines, "lag_max_ms")
        sink_stalled, server_stalled = sink_lag >= STALL_MS, server_lag >= STALL_MS
        key = {
            (True, True): "both",
            (True, False): "sink_stalled",
            (False, True): "server_stalled",
            (False, False): "neither",
        }[(sink_stalled, server_stalled)]
        counts[key] += 1
        sink_gc += _worst(sink_lines, "gc_max_ms") >= STALL_MS
        rows.append(
            {
                "site": document.site,
                "acked_s": round(document.acked_s, 3),
                "latency_s": round(document.latency_s, 3),
                "sink_lag_max_ms": sink_lag,
                "sink_gc_max_ms": _worst(sink_lines, "gc_max_ms"),
                "sink_cpu_ms_max": _worst(sink_lines, "cpu_ms"),
                "server_lag_max_ms": server_lag,
                "server_gc_max_ms": _worst(server_lines, "gc_max_ms"),
                "load1": _worst(sink_lines, "load1"),
            }
        )
    return {
        "stall_ms": STALL_MS,
        "slow_documents": len(slow),
        "in_flight_during": counts,
        "sink_gc_pause_at_least_stall": sink_gc,
        "slowest": sorted(rows, key=lambda r: -r["latency_s"])[:40],
    }

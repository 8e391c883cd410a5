"""Where a process's event loop stood still, second by second, for the benchmarks' tails.

``record_stalls(path)`` runs beside a process's own tasks. Every ``TICK_SECONDS`` it sleeps and
measures how late it woke (the loop was busy, or the process had no CPU); ``gc.callbacks``
time every garbage collection. Once a second one JSON line goes to ``path``:

    {"at": epoch s, "lag_max_ms": .., "gc_ms": .., "gc_max_ms": .., "gc_gen2": n,
     "cpu_ms": .., "load1": ..}

``cpu_ms`` is the process's CPU time in that second: a long lag with little CPU means the
process waited for a core (other processes), a long lag with a full second of CPU means the
loop itself was busy.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

TICK_SECONDS = 0.02


class GcTimer:
    """Pause time of the garbage collections since the last ``take()``."""

    def __init__(self) -> None:
        self._started = 0.0
        self.total_s = 0.0
        self.max_s = 0.0
        self.gen2 = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
            return
        pause = now - self._started
        self.total_s += pause
        self.max_s = max(self.max_s, pause)
        self.gen2 += info.get("generation") == 2

    def take(self) -> tuple[float, float, int]:
        taken = (self.total_s, self.max_s, self.gen2)
        self.total_s, self.max_s, self.gen2 = 0.0, 0.0, 0
        return taken


async def record_stalls(path: Path) -> None:
    timer = GcTimer()
    gc.callbacks.append(timer)
    try:
        with path.open("a", encoding="utf-8") as out:
            second_ends = time.monotonic() + 1.0
            cpu_before = time.process_time()
            lag_max = 0.0
            while True:
                asked = time.monotonic()
                await asyncio.sleep(TICK_SECONDS)
                woke = time.monotonic()
                lag_max = max(lag_max, woke - asked - TICK_SECONDS)
                if woke < second_ends:
                    continue
                gc_s, gc_max_s, gen2 = timer.take()
                cpu = time.process_time()
                line = {
                    "at": round(time.time(), 3),
                    "lag_max_ms": round(lag_max * 1000, 1),
                    "gc_ms": round(gc_s * 1000, 1),
                    "gc_max_ms": round(gc_max_s * 1000, 1),
                    "gc_gen2": gen2,
                    "cpu_ms": round((cpu - cpu_before) * 1000, 1),
                    "load1": os.getloadavg()[0],
                }
                out.write(json.dumps(line) + "\n")
                out.flush()
                cpu_before, lag_max, second_ends = cpu, 0.0, woke + 1.0
    finally:
        gc.callbacks.remove(timer)

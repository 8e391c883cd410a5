"""Plausible CGM glucose for one simulated patient: smooth, deterministic, on a 5-minute grid.

The curve is a base level plus three sine waves (daily rhythm, meals, faster swings) with small
per-reading noise; everything derives from the simulator seed and a key naming the patient, so
the same patient always shows the same day. Trends are Nightscout direction names from the
slope of the smooth curve, with the usual Dexcom bands of 1 / 2 / 3 mg/dL per minute; each
vendor simulator writes them its own way.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from nightstream.schemas.glucose_values import ARROWS

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
READING_INTERVAL_MS = 5 * MINUTE_MS
LOWEST_MGDL = 40
HIGHEST_MGDL = 400
# What ``trend_for_rate`` answers, steepest rise first (Dexcom numbers them 1..7 so).
DIRECTIONS = ARROWS


def trend_for_rate(mgdl_per_minute: float) -> str:
    rate = mgdl_per_minute
    if rate >= 3:
        return "DoubleUp"
    if rate >= 2:
        return "SingleUp"
    if rate >= 1:
        return "FortyFiveUp"
    if rate > -1:
        return "Flat"
    if rate > -2:
        return "FortyFiveDown"
    if rate > -3:
        return "SingleDown"
    return "DoubleDown"


@dataclass(frozen=True, slots=True)
class Wave:
    amplitude: float
    period_ms: float
    phase: float

    def at(self, t_ms: int) -> float:
        return self.amplitude * math.sin(math.tau * t_ms / self.period_ms + self.phase)


@dataclass(frozen=True, slots=True)
class Reading:
    time_ms: int
    mgdl: int
    trend: str


@dataclass(frozen=True, slots=True)
class GlucoseTrace:
    key: str
    base_mgdl: float
    waves: tuple[Wave, ...]
    noise_mgdl: float
    grid_offset_ms: int
    gap_probability: float = 0.0

    @classmethod
    def from_seed(cls, seed: int, key: str, *, gap_probability: float = 0.0) -> GlucoseTrace:
        # The label predates the kit; another one would change every simulated curve.
        rng = random.Random(f"dexcomshare:{seed}:{key}")
        waves = (
            Wave(rng.uniform(15, 35), DAY_MS, rng.uniform(0, math.tau)),
            Wave(rng.uniform(30, 80), rng.uniform(4, 6) * HOUR_MS, rng.uniform(0, math.tau)),
            Wave(rng.uniform(10, 25), rng.uniform(70, 110) * MINUTE_MS, rng.uniform(0, math.tau)),
        )
        return cls(
            key=f"{seed}:{key}",
            base_mgdl=rng.uniform(110, 190),
            waves=waves,
            noise_mgdl=2.0,
            grid_offset_ms=rng.randrange(READING_INTERVAL_MS),
            gap_probability=gap_probability,
        )

    def smooth_mgdl(self, t_ms: int) -> float:
        return self.base_mgdl + sum(wave.at(t_ms) for wave in self.waves)

    def latest_grid_time(self, now_ms: int) -> int:
        return now_ms - (now_ms - self.grid_offset_ms) % READING_INTERVAL_MS

    def has_reading(self, t_ms: int) -> bool:
        return self.gap_probability <= 0 or self._unit(t_ms, "gap") >= self.gap_probability

    def reading(self, t_ms: int) -> Reading:
        noise = (2 * self._unit(t_ms, "noise") - 1) * self.noise_mgdl
        value = round(self.smooth_mgdl(t_ms) + noise)
        slope = (self.smooth_mgdl(t_ms) - self.smooth_mgdl(t_ms - READING_INTERVAL_MS)) / 5
        return Reading(t_ms, min(max(value, LOWEST_MGDL), HIGHEST_MGDL), trend_for_rate(slope))

    def readings(
        self, now_ms: int, *, minutes: int, max_count: int, history_ms: int = DAY_MS
    ) -> list[Reading]:
        """Readings newer than ``now - minutes`` (and within the history), newest first."""
        oldest_exclusive = now_ms - min(minutes * MINUTE_MS, history_ms)
        found: list[Reading] = []
        t_ms = self.latest_grid_time(now_ms)
        while t_ms > oldest_exclusive and len(found) < max_count:
            if self.has_reading(t_ms):
                found.append(self.reading(t_ms))
            t_ms -= READING_INTERVAL_MS
        return found

    def _unit(self, t_ms: int, label: str) -> float:
        """A deterministic number in [0, 1) for this trace, time and purpose."""
        digest = hashlib.blake2b(f"{self.key}:{label}:{t_ms}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

"""What one simulated patient's sensor shows: the per-minute current reading, the lagging
history, and the sensor's activation time.

The glucose curve is the simulator kit's (deterministic per seed and patient). History
points sit on a fixed grid (5 min, as the graph fixtures show) and stop 15-20 min before now;
the current reading moves every minute, half a minute off that grid, so the two never share a
timestamp, as on the real service.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from nightstream.simulators.kit.glucose import DAY_MS, HOUR_MS, MINUTE_MS, GlucoseTrace, Reading
from nightstream.simulators.librelinkup.accounts import SimPatient

HISTORY_SPAN_MS = 12 * HOUR_MS
DEFAULT_HISTORY_STEP_MS = 5 * MINUTE_MS
SENSOR_LIFE_MS = 14 * DAY_MS
SENSOR_WARMUP_MINUTES = 60

# TrendArrow 1..5 for the trend of the curve; LibreLinkUp has no double arrows.
TREND_ARROWS = {
    "DoubleDown": 1,
    "SingleDown": 1,
    "FortyFiveDown": 2,
    "Flat": 3,
    "FortyFiveUp": 4,
    "SingleUp": 5,
    "DoubleUp": 5,
}


@dataclass(frozen=True, slots=True)
class PatientFeed:
    trace: GlucoseTrace
    lag_ms: int
    sensor_phase_ms: int
    serial: str

    @classmethod
    def for_patient(cls, seed: int, patient: SimPatient) -> PatientFeed:
        """The same feed for the same seed and patient, however often it is made."""
        key = patient.patient_id
        rng = random.Random(f"librelinkup-feed:{seed}:{key}")
        lag_ms = rng.randrange(15 * MINUTE_MS, 20 * MINUTE_MS + 1, 1000)
        phase_ms = rng.randrange(SENSOR_LIFE_MS // 1000) * 1000
        gaps = patient.gap_probability
        trace = GlucoseTrace.from_seed(seed, f"llu:{key}", gap_probability=gaps)
        return cls(trace, lag_ms, phase_ms, serial=f"0M{rng.randrange(10**8):08d}")

    @property
    def grid_anchor_ms(self) -> int:
        """Where the history grid sits, in whole seconds: LLU timestamps carry no milliseconds."""
        return self.trace.grid_offset_ms - self.trace.grid_offset_ms % 1000

    def current(self, now_ms: int) -> Reading:
        offset = (self.grid_anchor_ms + MINUTE_MS // 2) % MINUTE_MS
        return self.trace.reading(now_ms - (now_ms - offset) % MINUTE_MS)

    def history(self, now_ms: int, step_ms: int = DEFAULT_HISTORY_STEP_MS) -> list[Reading]:
        """The graph's points, oldest first: on the grid, within 12 h, lagging behind now."""
        newest = now_ms - self.lag_ms
        time_ms = newest - (newest - self.grid_anchor_ms) % step_ms
        points = []
        while time_ms > now_ms - HISTORY_SPAN_MS:
            if self.trace.has_reading(time_ms):
                points.append(self.trace.reading(time_ms))
            time_ms -= step_ms
        return points[::-1]

    def sensor_start_ms(self, now_ms: int) -> int:
        """When the sensor worn at ``now_ms`` was started (whole seconds, as LLU sends it)."""
        return now_ms - (now_ms - self.sensor_phase_ms) % SENSOR_LIFE_MS

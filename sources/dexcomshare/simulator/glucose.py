"""Moved to ``sources.simulator_kit.glucose``; kept while bench/fault_run.py imports it here."""

from __future__ import annotations

from sources.simulator_kit.glucose import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    READING_INTERVAL_MS,
    GlucoseTrace,
    Reading,
)

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "READING_INTERVAL_MS", "GlucoseTrace", "Reading"]

"""How Share writes a reading: ``Date(ms)`` wrappers and trend names, current and older forms.

Current: ``"WT":"Date(1745081013817)"``, ``"DT":"Date(1745081013817-0400)"``, ``"Trend":"Flat"``.
Older (before ~2021): the same wrapped as ``/Date(...)/`` and the trend as an integer 0-9.
"""

from __future__ import annotations

from typing import Literal

from nightstream.simulators.kit.glucose import DIRECTIONS, Reading

# Re-exported: bench/fault_run.py imports it from here.
from nightstream.simulators.kit.replies import compact_json as compact_json

DateStyle = Literal["current", "slashed"]
TrendStyle = Literal["string", "integer"]
MalformedKind = Literal["bad_date", "missing_value", "not_an_object"]
MALFORMED_KINDS: tuple[MalformedKind, ...] = ("bad_date", "missing_value", "not_an_object")

# Index = Dexcom's old integer trend.
TREND_NAMES: tuple[str, ...] = ("None", *DIRECTIONS, "NotComputable", "RateOutOfRange")


def utc_offset_suffix(utc_offset_minutes: int) -> str:
    sign = "+" if utc_offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(utc_offset_minutes), 60)
    return f"{sign}{hours:02d}{minutes:02d}"


def dexcom_date(epoch_ms: int, style: DateStyle, utc_offset_minutes: int | None = None) -> str:
    inner = str(epoch_ms)
    if utc_offset_minutes is not None:
        inner += utc_offset_suffix(utc_offset_minutes)
    return f"/Date({inner})/" if style == "slashed" else f"Date({inner})"


def reading_object(
    reading: Reading, *, date_style: DateStyle, trend_style: TrendStyle, utc_offset_minutes: int
) -> dict[str, object]:
    trend: object = reading.trend
    if trend_style == "integer":
        trend = TREND_NAMES.index(reading.trend)
    return {
        "WT": dexcom_date(reading.time_ms, date_style),
        "ST": dexcom_date(reading.time_ms, date_style),
        "DT": dexcom_date(reading.time_ms, date_style, utc_offset_minutes),
        "Value": reading.mgdl,
        "Trend": trend,
    }


def malformed_object(kind: MalformedKind, near: dict[str, object]) -> object:
    """A reading no parser should accept, shaped like ``near``."""
    if kind == "bad_date":
        return {**near, "WT": "Date(soon)", "ST": "Date(soon)", "DT": "Date(soon)"}
    if kind == "missing_value":
        return {key: value for key, value in near.items() if key != "Value"}
    return "reading"

"""Reading one Tandem event: its envelope, its pump-local times and its properties.

Every failure is a BadRecordError whose reason names the field (``eventProperties.<name>`` for
properties), so a dead letter says exactly what was wrong with which event.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.errors import BadRecordError
from schemas.glucose_values import MAX_AHEAD_MS, MIN_DATE_MS_EXCLUSIVE

TANDEM_EPOCH = datetime(2008, 1, 1)  # noqa: DTZ001 (the pump's wall clock has no zone)
_WALL = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})", re.ASCII)
_LAST_ISO_MS = 253_402_300_799_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
U32_MAX = 2**32 - 1


def shown(value: Any, limit: int = 40) -> str:
    """``value`` for a rejection reason: ASCII, short, and never a 4300-digit integer."""
    if isinstance(value, int) and value.bit_length() > 128:
        return "<a number of more than 38 digits>"
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def kind(value: Any) -> str:
    if value is None:
        return "null"
    for types, name in (
        (bool, "boolean"),
        ((int, float), "number"),
        (str, "string"),
        (list, "array"),
        (dict, "object"),
    ):
        if isinstance(value, types):
            return name
    return "value"


def required(item: dict[str, Any], name: str, where: str = "") -> Any:
    if name not in item:
        raise BadRecordError(f"{where}{name} is missing")
    return item[name]


def number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecordError(f"{name} is a JSON {kind(value)}, expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRecordError(f"{name} {shown(value)} is not a finite number")
    if isinstance(value, int) and value.bit_length() > 64:
        raise BadRecordError(f"{name} {shown(value)} is out of range")
    return float(value)


def whole(value: Any, name: str, low: int = 0, high: int = U32_MAX) -> int:
    found = number(value, name)
    if not found.is_integer():
        raise BadRecordError(f"{name} {shown(value)} is not a whole number")
    if not low <= found <= high:
        raise BadRecordError(f"{name} {shown(value)} is outside {low}..{high}")
    return int(found)


@dataclass(frozen=True, slots=True)
class PumpClock:
    """Pump-local wall clock -> UTC, in the link's IANA zone.

    An ambiguous wall time (the hour repeated when DST ends) is read as its first occurrence,
    a time that does not exist (skipped when DST starts) as if the clock had not moved yet:
    ``zoneinfo``'s ``fold=0``, the same answer every time.
    """

    zone: zoneinfo.ZoneInfo

    def utc_ms(self, wall: datetime) -> int:
        return int(wall.replace(tzinfo=self.zone).timestamp() * 1000)

    def offset_minutes(self, utc_ms: int) -> int:
        offset = datetime.fromtimestamp(utc_ms / 1000, self.zone).utcoffset() or timedelta()
        return int(offset.total_seconds() // 60)


def wall_time(value: Any, name: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SS`` with no zone (the pump's clock)."""
    if not isinstance(value, str):
        raise BadRecordError(f"{name} is a JSON {kind(value)}, expected YYYY-MM-DDTHH:MM:SS")
    match = _WALL.fullmatch(value)
    if match is None:
        raise BadRecordError(f"{name} {shown(value)} is not YYYY-MM-DDTHH:MM:SS without a zone")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
    except ValueError:
        raise BadRecordError(f"{name} {shown(value)} is not a valid date and time") from None


def tandem_seconds(value: Any, name: str) -> datetime:
    """Seconds since 2008-01-01 on the pump's wall clock (``egvTimeStamp``)."""
    return TANDEM_EPOCH + timedelta(seconds=whole(value, name))


def checked_date(date_ms: int, fetched_at_ms: int, name: str) -> int:
    """``date_ms`` when Nightscout can store it and it is not from the future."""
    if date_ms <= MIN_DATE_MS_EXCLUSIVE:
        raise BadRecordError(f"{name} gives {shown(date_ms)}, not after 2000-01-01T00:00:00Z")
    if date_ms > min(fetched_at_ms + MAX_AHEAD_MS, _LAST_ISO_MS):
        raise BadRecordError(
            f"{name} gives {shown(date_ms)}, more than {MAX_AHEAD_MS // 60_000} min after the "
            f"poll (fetched_at_ms {fetched_at_ms})"
        )
    return date_ms


def iso_utc(date_ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=date_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""Reading one Tandem event: its envelope, its pump-local times and its properties.

Checks that every vendor's values share (dates Nightscout accepts, how a value is shown in a
reason) come from ``nightstream.streams.json_values``.

Every failure is a BadRecordError whose reason names the field (``eventProperties.<name>`` for
properties), so a dead letter says exactly what was wrong with which event.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nightstream.schemas.errors import BadRecordError
from nightstream.streams.json_text import json_kind
from nightstream.streams.json_values import finite_number, shown

TANDEM_EPOCH = datetime(2008, 1, 1)  # noqa: DTZ001 (the pump's wall clock has no zone)
_WALL = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})", re.ASCII)
U32_MAX = 2**32 - 1


def number(value: Any, name: str) -> float:
    value = finite_number(value, name)
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
        raise BadRecordError(f"{name} is a JSON {json_kind(value)}, expected YYYY-MM-DDTHH:MM:SS")
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

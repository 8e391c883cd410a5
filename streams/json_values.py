"""Checks on single JSON values that every vendor transform shares: fields present, numbers
finite and whole, dates Nightscout accepts, and how a value is shown in a rejection reason."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.glucose_values import MAX_AHEAD_MS, MIN_DATE_MS_EXCLUSIVE
from nightstream.streams.json_text import Located, json_kind, member

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The last millisecond whose ISO-8601 form still has a four-digit year.
_LAST_ISO_MS = 253_402_300_799_999
_LONGEST_SHOWN_INT_BITS = 256


def shown(value: Any, limit: int = 60) -> str:
    """``value`` for a rejection reason: ASCII only, and short."""
    if isinstance(value, int) and value.bit_length() > _LONGEST_SHOWN_INT_BITS:
        # Python refuses to write out integers of more than 4300 digits (ValueError), and
        # JSON numbers scaled here (seconds -> ms) can get there.
        sign = "-" if value < 0 else ""
        digits = math.floor(value.bit_length() * math.log10(2)) + 1
        return f"<{sign}number of about {digits} digits>"
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def required(item: dict[str, Any], name: str, where: str = "") -> Any:
    """``item[name]``; ``where`` prefixes the name in the reason (``eventProperties.``)."""
    if name not in item:
        raise BadRecordError(f"{where}{name} is missing")
    return item[name]


def member_of_kind(node: Located, name: str, kind: type, expected: str) -> Located:
    """``node[name]`` when it is a ``kind`` (``expected`` says which in the reason)."""
    found = member(node, name)
    if found is None or not isinstance(found.value, kind):
        shape = "missing" if found is None else f"a JSON {json_kind(found.value)}"
        raise BadRecordError(f"{name} is {shape}, expected {expected}")
    return found


def finite_number(value: Any, name: str) -> int | float:
    """A JSON number (not a boolean) that is finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecordError(f"{name} is a JSON {json_kind(value)}, expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRecordError(f"{name} {shown(value)} is not a finite number")
    return value


def whole_number(value: Any, name: str) -> int:
    value = finite_number(value, name)
    if isinstance(value, float) and not value.is_integer():
        raise BadRecordError(f"{name} {shown(value)} is not a whole number")
    return int(value)


def checked_date(date_ms: int, fetched_at_ms: int, name: str) -> int:
    """``date_ms`` when Nightscout can store it and it is not from the future."""
    if date_ms <= MIN_DATE_MS_EXCLUSIVE:
        raise BadRecordError(f"{name} gives {shown(date_ms)}, not after 2000-01-01T00:00:00Z")
    if date_ms > min(fetched_at_ms + MAX_AHEAD_MS, _LAST_ISO_MS):
        raise BadRecordError(
            f"{name} gives {shown(date_ms)}, more than {MAX_AHEAD_MS // 60_000} min after the poll "
            f"(fetched_at_ms {fetched_at_ms})"
        )
    return date_ms


def iso_utc(date_ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=date_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

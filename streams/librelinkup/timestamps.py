"""LibreLinkUp times: ``M/D/YYYY h:mm:ss AM/PM`` without any zone marker.

``FactoryTimestamp`` is UTC and is read as UTC explicitly (never with the host's zone).
``Timestamp`` is the same instant on the patient's phone clock; it is only ever compared with
``FactoryTimestamp``, which gives the phone's UTC offset at that reading.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from nightstream.schemas.errors import BadRecordError
from nightstream.streams.json_text import json_kind
from nightstream.streams.json_values import shown

_LLU_TIME = re.compile(
    r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}) "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2}) (?P<half>[AP]M)",
    re.ASCII,
)
MAX_OFFSET_MINUTES = 14 * 60


def digits_as_utc_ms(value: Any, name: str) -> int:
    """Epoch ms of the clock reading in ``value``, taken as a UTC clock."""
    if not isinstance(value, str):
        raise BadRecordError(
            f"{name} is a JSON {json_kind(value)}, expected M/D/YYYY h:mm:ss AM/PM"
        )
    match = _LLU_TIME.fullmatch(value)
    hour = int(match["hour"]) if match else 0
    if match is None or not 1 <= hour <= 12:
        raise BadRecordError(f"{name} {shown(value)} is not M/D/YYYY h:mm:ss AM/PM")
    hour = hour % 12 + (12 if match["half"] == "PM" else 0)
    try:
        moment = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            hour,
            int(match["minute"]),
            int(match["second"]),
            tzinfo=UTC,
        )
    except ValueError:
        raise BadRecordError(f"{name} {shown(value)} is not a valid date and time") from None
    return int(moment.timestamp()) * 1000


def utc_offset_minutes(phone_time: Any, factory_ms: int) -> int:
    """The phone's UTC offset: how far its ``Timestamp`` runs ahead of ``FactoryTimestamp``."""
    difference_ms = digits_as_utc_ms(phone_time, "Timestamp") - factory_ms
    minutes, rest = divmod(difference_ms, 60_000)
    if rest or abs(minutes) > MAX_OFFSET_MINUTES:
        raise BadRecordError(
            f"Timestamp {shown(phone_time)} is {difference_ms // 1000} s from FactoryTimestamp: "
            "no UTC offset (whole minutes, at most 14 h)"
        )
    return minutes

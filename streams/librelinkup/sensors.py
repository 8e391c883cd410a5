"""A LibreLinkUp sensor's activation time -> one Nightscout ``Sensor Start`` treatment.

``sensor.a`` is the activation in epoch seconds. The treatment carries only what that says:
no serial number (personal and not needed), and no ``utcOffset``: the phone's offset at the
activation is not in the answer, and Nightscout never lets a stored offset change, so a guess
from today's readings could clash after a time-zone or DST change.
"""

from __future__ import annotations

from typing import Any

from nightstream.schemas.documents import NsDocument
from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.identity import nightscout_identifier
from nightstream.streams.json_text import json_kind
from nightstream.streams.json_values import checked_date, iso_utc, required, whole_number
from nightstream.streams.transform import APP_NAME

SENSOR_START = "Sensor Start"


def sensor_start(sensor: Any, device: str, fetched_at_ms: int) -> NsDocument:
    if not isinstance(sensor, dict):
        raise BadRecordError(f"is a JSON {json_kind(sensor)}, expected an object")
    seconds = whole_number(required(sensor, "a"), "a (activation, epoch s)")
    date = checked_date(seconds * 1000, fetched_at_ms, "a (activation, epoch s)")
    return {
        "eventType": SENSOR_START,
        "date": date,
        "created_at": iso_utc(date),
        "device": device,
        "app": APP_NAME,
        "identifier": nightscout_identifier(device, date, SENSOR_START),
    }

"""One element of a pump-log answer's ``events`` -> a checked ``PumpEvent`` (or None when
nightstream maps nothing from its event code).

The envelope is ``{eventCode, sequenceGroup, sequenceNumber, pumpDateTime, eventProperties}``
(plus ``deviceAssignmentId`` and ``estimatedDateTime``, not used: the payload names the pump,
and ``estimatedDateTime`` is the same wall clock with a ``Z`` that does not make it UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nightstream.schemas.errors import BadRecordError
from nightstream.streams.json_text import json_kind
from nightstream.streams.json_values import checked_date, required
from nightstream.streams.tandem.codes import MAPPED_CODES
from nightstream.streams.tandem.values import U32_MAX, PumpClock, number, wall_time, whole

PROPERTIES = "eventProperties."


@dataclass(frozen=True, slots=True)
class PumpEvent:
    code: int
    group: int
    sequence_number: int
    wall: datetime
    """When the pump logged it (naive pump-local)."""
    date_ms: int
    properties: dict[str, Any]

    @property
    def key(self) -> tuple[int, int]:
        """What identifies an event in a pump's log (the reference dedups by it)."""
        return self.group, self.sequence_number

    @property
    def sequence(self) -> str:
        return f"{self.group}-{self.sequence_number}"

    def value(self, name: str) -> Any:
        return required(self.properties, name, PROPERTIES)

    def whole(self, name: str, low: int = 0, high: int = U32_MAX) -> int:
        return whole(self.value(name), PROPERTIES + name, low, high)

    def number(self, name: str) -> float:
        return number(self.value(name), PROPERTIES + name)

    def optional_whole(self, name: str) -> int | None:
        return None if name not in self.properties else self.whole(name)


def event_code(value: Any) -> int:
    if not isinstance(value, dict):
        raise BadRecordError(f"is a JSON {json_kind(value)}, expected an object")
    return whole(required(value, "eventCode"), "eventCode", 0, 0xFFFF)


def read_event(value: Any, clock: PumpClock, fetched_at_ms: int) -> PumpEvent | None:
    code = event_code(value)
    if code not in MAPPED_CODES:
        return None
    number_ = whole(required(value, "sequenceNumber"), "sequenceNumber")
    group = whole(required(value, "sequenceGroup"), "sequenceGroup")
    wall = wall_time(required(value, "pumpDateTime"), "pumpDateTime")
    date_ms = checked_date(clock.utc_ms(wall), fetched_at_ms, "pumpDateTime")
    properties = required(value, "eventProperties")
    if not isinstance(properties, dict):
        raise BadRecordError(
            f"eventProperties is a JSON {json_kind(properties)}, expected an object"
        )
    return PumpEvent(code, group, number_, wall, date_ms, properties)

"""The poll cursor of one Tandem pump: where the next pump-log window starts, the newest
sequence number seen, and the pump's ``maxDateOfEvents`` when it was last read to the end.

Tandem is asked by pump-local day, so the cursor is a day: the day of the event with the highest
sequence number, less one day of overlap. Events reach Tandem in sequence order whenever the
phone app uploads, so nothing the pump logged after that event can be on an earlier day (unless
the pump clock was set back, which moves that day back too: the safe direction).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

OVERLAP = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Newest:
    sequence_number: int
    pump_time: datetime
    """Naive pump-local wall clock."""


def newest_event(body: bytes) -> Newest | None:
    """The event with the highest sequence number in a pump-log answer (the only parsing the
    poller does); None when there is none or the body is unreadable (the transform says why)."""
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None
    events = value.get("events") if isinstance(value, dict) else None
    best: Newest | None = None
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        number, when = event.get("sequenceNumber"), event.get("pumpDateTime")
        if isinstance(number, bool) or not isinstance(number, int) or not isinstance(when, str):
            continue
        try:
            moment = datetime.fromisoformat(when)
        except ValueError:
            continue
        if moment.tzinfo is None and (best is None or number > best.sequence_number):
            best = Newest(number, moment)
    return best


@dataclass(frozen=True, slots=True)
class PumpCursor:
    """The part of a link's cursor state that belongs to one pump (keys prefixed by its digest)."""

    next_day: date | None = None
    sequence_number: int | None = None
    max_date_of_events: str | None = None

    @classmethod
    def read(cls, state: dict[str, str], digest: str) -> PumpCursor:
        day = state.get(f"{digest}.next")
        number = state.get(f"{digest}.seq")
        try:
            return cls(
                date.fromisoformat(day) if day else None,
                int(number) if number else None,
                state.get(f"{digest}.max_date"),
            )
        except ValueError:
            return cls()

    def write(self, state: dict[str, str], digest: str) -> dict[str, str]:
        out = {k: v for k, v in state.items() if not k.startswith(f"{digest}.")}
        if self.next_day is not None:
            out[f"{digest}.next"] = self.next_day.isoformat()
        if self.sequence_number is not None:
            out[f"{digest}.seq"] = str(self.sequence_number)
        if self.max_date_of_events is not None:
            out[f"{digest}.max_date"] = self.max_date_of_events
        return out

"""What the simulator served, as the fault run's judge needs it: which readings each answer
carried, which readings only an oversize answer carried, and each reading's latest value.

The poller cannot publish an answer over ``MAX_VENDOR_ANSWER_BYTES``: it dead-letters a
reference to it and moves its cursor past the answer's window. What the user then expects:

- every reading some other answer carried must land (the next poll's window overlaps the
  skipped one by 15 minutes, so at steady state the skipped answer's newest readings come again
  and land);
- readings that only the oversize answer carried are never served again and are legitimately
  absent (the dead letter names the window they were in).

A revised reading (``ShareSimulator.revise_reading``) must land with its revised value when an
answer after the revision carried it, else with the trace's own value.
"""

from __future__ import annotations

from nightstream.schemas.topics import MAX_VENDOR_ANSWER_BYTES
from nightstream.simulators.dexcomshare.counters import ServedAnswer
from nightstream.simulators.dexcomshare.formats import reading_object
from nightstream.simulators.dexcomshare.service import ShareService
from nightstream.simulators.kit.glucose import Reading


class ServedReadings:
    """One account's answers, in the simulator's own terms."""

    def __init__(self, service: ShareService, username: str) -> None:
        self._service = service
        self.account = service.account(username)
        self.trace = service.trace(username)
        self.answers = [a for a in service.answers if a.account_key == self.account.key]
        self.revisions = service.revisions(username)

    def carried(self, answer: ServedAnswer) -> set[int]:
        """The reading times ``answer`` carried (an inflated answer repeats them)."""
        readings = self.trace.readings(
            answer.at_ms,
            minutes=answer.minutes,
            max_count=answer.max_count,
            history_ms=self._service.history_ms,
        )
        return {r.time_ms for r in readings}

    @property
    def oversize(self) -> list[ServedAnswer]:
        return [a for a in self.answers if a.size > MAX_VENDOR_ANSWER_BYTES]

    def only_in_oversize(self) -> set[int]:
        """Readings no answer but an oversize one carried: never served again, not expected."""
        oversize = self.oversize
        if not oversize:
            return set()
        skipped = set().union(*(self.carried(a) for a in oversize))
        others = (a for a in self.answers if a.size <= MAX_VENDOR_ANSWER_BYTES)
        return skipped - set().union(*(self.carried(a) for a in others))

    def revisions_served(self) -> set[int]:
        """Revised readings that an answer (within the limit) carried after the revision."""
        served = set()
        for time_ms, revision in self.revisions.items():
            later = (
                a
                for a in self.answers
                if a.at_ms >= revision.at_ms and a.size <= MAX_VENDOR_ANSWER_BYTES
            )
            if any(time_ms in self.carried(a) for a in later):
                served.add(time_ms)
        return served

    def latest(self, time_ms: int, revised_and_served: set[int]) -> Reading:
        """The reading's value in the newest answer that carried it."""
        if time_ms in revised_and_served:
            return self.revisions[time_ms].reading
        return self.trace.reading(time_ms)

    def renderings(self, time_ms: int) -> list[dict[str, object]]:
        """How any answer may have written the reading: as first served, and as revised."""
        versions = [self.trace.reading(time_ms)]
        if time_ms in self.revisions:
            versions.append(self.revisions[time_ms].reading)
        account = self.account
        return [
            reading_object(
                reading,
                date_style=account.date_style,
                trend_style=account.trend_style,
                utc_offset_minutes=account.utc_offset_minutes,
            )
            for reading in versions
        ]

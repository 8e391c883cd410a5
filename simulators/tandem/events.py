"""A simulated pump's event log, as Tandem Source's ``bff/pump-logs`` returns it.

Time is cut into 5-minute slots from the pump's first event; slot ``k`` holds a fixed list of
events (a CGM reading and a basal delivery always; boluses, site changes, sensor sessions,
alarms, alerts, suspensions, daily records and event ids nobody maps on their own schedule, in
pump-local time), and event ``i`` of slot ``k`` has sequence number ``k * 10 + i``. So any window
gives the same events with the same numbers, whoever asks and however often.

Every event is ``{deviceAssignmentId, eventCode, sequenceGroup, sequenceNumber, pumpDateTime,
estimatedDateTime, eventProperties}``; ``pumpDateTime`` is the pump's wall clock (its zone plus
any clock changes), property names are the reference's camelCase ones, bitmasks are arrays of
set bits, and unused uint16 rates are 65535.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from nightstream.simulators.kit.glucose import DAY_MS, READING_INTERVAL_MS, GlucoseTrace
from nightstream.simulators.tandem.accounts import SimPump

SLOT_MS = READING_INTERVAL_MS
EVENTS_PER_SLOT = 10
TANDEM_EPOCH = datetime(2008, 1, 1)  # noqa: DTZ001 (pump wall clock, no zone)
UNUSED_U16 = 65535
CGM_CODES = {"g7": 399, "g6": 256, "libre2": 372, "libre3": 480}
SENSOR_STOP = {"g7": 447, "g6": 214, "libre2": 405, "libre3": 486}
SENSOR_NEW = {"g7": 394, "g6": 212, "libre2": 404, "libre3": 477}
"""Start (G6, Libre 2) or join (G7, Libre 3) of a new sensor's session."""
CGM_ALERT = {"g7": 369, "g6": 369, "libre2": 460, "libre3": 460}
UNKNOWN_CODE = 999
Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Slot:
    index: int
    utc_ms: int
    wall: datetime
    """The pump's wall clock at the slot (naive)."""

    def at(self, minute: int, hour: int) -> bool:
        return self.wall.hour == hour and self.wall.minute // 5 == minute // 5

    @property
    def day_number(self) -> int:
        return self.wall.toordinal()


class PumpLog:
    def __init__(self, pump: SimPump, seed: int) -> None:
        self.pump = pump
        self._zone = zoneinfo.ZoneInfo(pump.time_zone)
        self._trace = GlucoseTrace.from_seed(seed, pump.assignment_id)
        self._start = pump.first_event_ms - pump.first_event_ms % SLOT_MS

    def wall(self, utc_ms: int) -> datetime:
        moment = datetime.fromtimestamp(utc_ms / 1000, self._zone) + timedelta(
            milliseconds=self.pump.shift_at(utc_ms)
        )
        return moment.replace(tzinfo=None)

    def slots(self, from_ms: int, to_ms: int) -> Iterator[Slot]:
        """Slots whose time is in ``[from_ms, to_ms]`` and within the pump's log."""
        last = to_ms if self.pump.last_event_ms is None else min(to_ms, self.pump.last_event_ms)
        first = max(from_ms, self._start)
        index = -(-(first - self._start) // SLOT_MS)
        while (utc_ms := self._start + index * SLOT_MS) <= last:
            yield Slot(index, utc_ms, self.wall(utc_ms))
            index += 1

    def events(self, start: date, end: date, now_ms: int) -> list[Event]:
        """Every event logged by ``now_ms`` on pump-local days ``start``..``end``."""
        if not self.pump.uploads:
            return []
        margin = DAY_MS + max((abs(c.shift_ms) for c in self.pump.clock_changes), default=0)
        from_ms = int(datetime.combine(start, time(), self._zone).timestamp() * 1000) - margin
        to_ms = int(datetime.combine(end, time(), self._zone).timestamp() * 1000) + DAY_MS + margin
        found = []
        for slot in self.slots(from_ms, min(to_ms, now_ms)):
            for event in self.slot_events(slot):
                logged = datetime.fromisoformat(event["pumpDateTime"]).date()
                if start <= logged <= end:
                    found.append(event)
        return found

    def newest_wall(self, now_ms: int) -> datetime | None:
        if not self.pump.uploads:
            return None
        last = self.pump.last_event_ms
        moment = now_ms if last is None else min(now_ms, last)
        if moment < self._start:
            return None
        return self.wall(moment - (moment - self._start) % SLOT_MS)

    def clock_changes(self) -> list[Event]:
        """Events 13 (TIME_CHANGED), one per clock change: the whole history, as Tandem sends."""
        changes = []
        for change in self.pump.clock_changes:
            before = self.wall(change.at_ms - 1)
            after = self.wall(change.at_ms)
            properties = {
                "timePrior": _ms_of_day(before),
                "timeAfter": _ms_of_day(after),
                "rawRtcTime": int((after - TANDEM_EPOCH).total_seconds()),
            }
            sequence = (change.at_ms - self._start) // SLOT_MS * EVENTS_PER_SLOT + 9
            changes.append(self._event(13, sequence, after, properties))
        return changes

    # what happens in a slot

    def slot_events(self, slot: Slot) -> list[Event]:
        builders = [
            self._cgm(slot),
            self._basal(slot),
            *self._bolus(slot),
            *self._extended_part(slot),
            *self._site_change(slot),
            *self._sensor(slot),
            *self._alarm(slot),
            *self._malfunction(slot),
            *self._cgm_alert(slot),
            *self._suspension(slot),
            *self._daily(slot),
        ]
        out = []
        for offset, (code, properties) in enumerate(builders[:EVENTS_PER_SLOT]):
            wall = slot.wall + timedelta(seconds=20 + offset * 3)
            out.append(self._event(code, slot.index * EVENTS_PER_SLOT + offset, wall, properties))
        return out

    def _event(self, code: int, sequence: int, wall: datetime, properties: dict[str, Any]) -> Event:
        text = wall.isoformat(timespec="seconds")
        return {
            "deviceAssignmentId": self.pump.assignment_id,
            "eventCode": code,
            "sequenceGroup": self.pump.sequence_group,
            "sequenceNumber": sequence,
            "pumpDateTime": text,
            "estimatedDateTime": f"{text}Z",
            "eventProperties": properties,
        }

    def _cgm(self, slot: Slot) -> tuple[int, dict[str, Any]]:
        reading = self._trace.reading(slot.utc_ms)
        status = 2 if reading.mgdl <= 40 else 1 if reading.mgdl >= 400 else 0
        properties: dict[str, Any] = {
            "rate": round(
                (
                    self._trace.smooth_mgdl(slot.utc_ms)
                    - self._trace.smooth_mgdl(slot.utc_ms - SLOT_MS)
                )
                / 5
                * 10
            ),
            "cgmDataType": [0],
            "glucoseValueStatus": status,
            "currentGlucoseDisplayValue": reading.mgdl,
            "rssi": 200,
            "algorithmState": 1,
            "egvTimeStamp": _tandem_seconds(slot.wall),
            "interval": 5,
            "egvInfoBitmask": [0, 5, 6, 7, 8, 11, 12],
        }
        return CGM_CODES[self.pump.cgm], properties

    def _basal(self, slot: Slot) -> tuple[int, dict[str, Any]]:
        profile = 800 if 6 <= slot.wall.hour < 22 else 650
        source, commanded = 1, profile
        if slot.index % 7 == 3:
            source, commanded = 3, profile + 250 * (slot.index % 3)
        if self._suspended(slot):
            source, commanded = 0, 0
        return 279, {
            "commandedRateSource": source,
            "profileBasalRate": profile,
            "commandedRate": commanded,
            "tempRate": UNUSED_U16,
            "algorithmRate": commanded if source == 3 else UNUSED_U16,
        }

    def _bolus(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        meals = {(7, 30): 45, (12, 30): 60, (19, 0): 70}
        carbs = next((c for (h, m), c in meals.items() if slot.at(m, h)), None)
        automatic = slot.at(0, 15)
        if carbs is None and not automatic:
            return []
        bolus_id = slot.index % 60000
        extended = not automatic and carbs == 70 and slot.day_number % 2 == 0
        size = 0.6 if automatic else round(carbs / 10, 2) if carbs else 0.0
        food, correction = (0.0, size) if automatic else (size, 0.0)
        events: list[tuple[int, dict[str, Any]]] = [
            (
                64,
                {
                    "correctionBolusIncluded": 1 if automatic else 0,
                    "bolusType": 2 if automatic else 1,
                    "bolusId": bolus_id,
                    "bg": self._trace.reading(slot.utc_ms).mgdl,
                    "carbAmount": 0 if automatic else carbs,
                    "iob": 1.25,
                    "carbRatio": 10000,
                },
            ),
            (
                65,
                {
                    "standardPercent": 50 if extended else 100,
                    "options": 3 if automatic else 1 if extended else 0,
                    "bolusId": bolus_id,
                    "duration": 120 if extended else 0,
                    "targetBg": 110,
                    "isf": 40,
                    "selectedIob": 0,
                    "declinedCorrection": 0,
                    "userOverride": 0,
                },
            ),
            (
                66,
                {
                    "bolusId": bolus_id,
                    "foodBolusSize": food,
                    "correctionBolusSize": correction,
                    "totalBolusSize": size,
                },
            ),
        ]
        delivered = round(size / 2, 2) if extended else size
        events.append(
            (
                20,
                {
                    "bolusId": bolus_id,
                    "completionStatus": 3,
                    "iob": 1.25 + delivered,
                    "insulinDelivered": delivered,
                    "insulinRequested": delivered,
                },
            )
        )
        return events

    def _extended_part(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        """The extended half of the dinner bolus on even days ends two hours later."""
        if slot.day_number % 2 != 0 or not slot.at(0, 21):
            return []
        return [
            (
                21,
                {
                    "bolusId": (slot.index - 24) % 60000,
                    "completionStatus": 3,
                    "iob": 2.1,
                    "insulinDelivered": 3.5,
                    "insulinRequested": 3.5,
                },
            )
        ]

    def _malfunction(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        if slot.day_number % 7 != 3 or not slot.at(0, 13):
            return []
        return [(6, {"malfId": 4097})]

    def _site_change(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        if slot.day_number % 3 != 0 or not slot.at(0, 10):
            return []
        return [
            (33, {"insulinVolume": 200, "v2Volume": 200.0}),
            (63, {"primeSize": 12.5, "completionStatus": 0, "position": 0}),
            (61, {"primeSize": 0.3, "completionStatus": 0}),
        ]

    def _sensor(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        if slot.day_number % 10 != 0 or not slot.at(0, 8):
            return []
        cgm = self.pump.cgm
        return [(SENSOR_STOP[cgm], {"stopReason": 1}), (SENSOR_NEW[cgm], {"joinReason": 0})]

    def _alarm(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        if slot.day_number % 4 != 1 or not slot.at(0, 14):
            return []
        return [(5, {"alarmId": 2}), (28, {"alarmId": 2}), (5, {"alarmId": 18})]

    def _cgm_alert(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        if not slot.at(0, 3):
            return []
        alert = 14 if slot.day_number % 2 else 1
        return [(CGM_ALERT[self.pump.cgm], {"dalertId": alert, "sensorType": 3})]

    def _suspended(self, slot: Slot) -> bool:
        return slot.day_number % 2 == 0 and slot.wall.hour == 16 and slot.wall.minute < 30

    def _suspension(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        if slot.day_number % 2 != 0:
            return []
        if slot.at(0, 16):
            return [(11, {"rpaTimeout": 30, "suspendReason": 0, "insulinAmount": 120})]
        if slot.at(30, 16):
            return [(12, {"preResumeState": 1, "insulinAmount": 120})]
        return []

    def _daily(self, slot: Slot) -> list[tuple[int, dict[str, Any]]]:
        found: list[tuple[int, dict[str, Any]]] = []
        if slot.at(0, 0):
            found.append((90, {"commandedBasalRate": 0.65, "featuresBitmask": [0, 1]}))
        if slot.at(0, 5):
            found.append((UNKNOWN_CODE, {"mystery": slot.index % 97}))
            found.append((313, {"sensorType": 3, "usermode": 0, "pumpControlState": 3}))
        if self.pump.daily_basal_events and slot.at(55, 23):
            found.append(
                (
                    81,
                    {
                        "dailyTotalBasal": 17.4,
                        "lastBasalRate": 0.65,
                        "iob": 0.8,
                        "batteryMsb": 15,
                        "batteryLsb": 120,
                        "batteryLipoMilliVolts": 3980,
                    },
                )
            )
        return found


def _tandem_seconds(wall: datetime) -> int:
    return int((wall - TANDEM_EPOCH).total_seconds())


def _ms_of_day(wall: datetime) -> int:
    return (wall - datetime.combine(wall.date(), time())).seconds * 1000

"""Golden cases, one or more per Tandem event type: the exact document each event gives.

Each case says what tconnectsync (v3.0.0, vendors-tandem.md §3.3) writes for the same event and,
where nightstream differs, why. The common reasons:

- Nightscout never lets ``eventType`` or ``date`` change, and the same event may reach the
  transform in windows that hold its neighbours or not; so every document stands on one event.
  tconnectsync merges 64/65/66/20 into one ``Combo Bolus`` with carbs; here the insulin (20) is a
  ``Correction Bolus`` and the carbs (64) a ``Carb Correction``, as Loop writes them.
- Nightscout's own vocabulary where it has one: ``Suspend Pump`` / ``Resume Pump`` (tconnectsync:
  ``Basal Suspension`` / ``Basal Resume``), ``Insulin Change`` for a cartridge (feeds Nightscout's
  insulin age) and ``Site Change`` for a cannula (cannula age); a tubing fill is a ``Note``
  (tconnectsync: ``Site Change`` for all three, which resets cannula age at every cartridge).
  Nightscout has no alarm type: ``Alarm`` and ``CGM Alert`` stay as tconnectsync names them.
- ``created_at`` is UTC ISO-8601 with ``utcOffset`` from the link's zone (tconnectsync: the local
  time with its offset, which is the same instant).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nightstream.schemas.documents import Collection
from nightstream.schemas.identity import entry_identifier, nightscout_identifier
from nightstream.streams.tandem import transform
from tests.streams.tandem.cases import (
    DEVICE,
    WALL,
    WALL_MS,
    event,
    later,
    payload,
    tandem_seconds,
)

EDT = -240


def treatment(
    event_type: str, number: int, date_ms: int = WALL_MS, **fields: Any
) -> dict[str, Any]:
    sequence = f"1-{number}"
    return {
        "eventType": event_type,
        "date": date_ms,
        "created_at": _iso(date_ms),
        "utcOffset": EDT,
        **fields,
        "pump_event_id": sequence,
        "device": DEVICE,
        "app": "nightstream",
        "identifier": nightscout_identifier(DEVICE, date_ms, f"{event_type}_{sequence}"),
    }


def sgv(value: int, date_ms: int) -> dict[str, Any]:
    return {
        "type": "sgv",
        "sgv": value,
        "date": date_ms,
        "dateString": _iso(date_ms),
        "utcOffset": EDT,
        "device": DEVICE,
        "app": "nightstream",
        "identifier": entry_identifier(DEVICE, date_ms, "sgv"),
    }


def _iso(date_ms: int) -> str:
    return (
        datetime.fromtimestamp(date_ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def only(events: list[dict[str, Any]]) -> list[tuple[Collection, dict[str, Any]]]:
    output = transform(payload(events))
    assert output.rejected == []
    return [(record.collection, record.document) for record in output.records]


def cgm(
    code: int, number: int, value: int, status: int = 0, egv: str = "2026-03-10T08:15:00"
) -> dict[str, Any]:
    properties = {
        "rate": -4,
        "cgmDataType": [0],
        "glucoseValueStatus": status,
        "currentGlucoseDisplayValue": value,
        "rssi": 180,
        "algorithmState": 1,
        "egvTimeStamp": tandem_seconds(egv),
        "interval": 5,
        "egvInfoBitmask": [0, 5, 6, 7, 8, 11, 12],
    }
    return event(code, number, properties)


READING_MS = 1_773_144_900_000  # 2026-03-10T08:15:00 EDT, the readings' egvTimeStamp


# CGM readings -> sgv entries. tconnectsync: the same value, time from egvTimeStamp, clamped
# 39/401; no direction either (the event's rate is not mapped to an arrow).


@pytest.mark.parametrize(
    ("code", "value", "status", "expected"),
    [
        (399, 142, 0, 142),  # G7 precise
        (399, 40, 2, 39),  # G7 Special Low
        (399, 400, 1, 401),  # G7 Special High
        (256, 35, 0, 39),  # G6 below 40
        (256, 400, 0, 400),
        (480, 450, 0, 401),  # Libre 3 above 400
        (372, 40, 0, 40),  # Libre 2 at the lowest shown value
    ],
)
def test_cgm_reading(code: int, value: int, status: int, expected: int) -> None:
    assert only([cgm(code, 700, value, status)]) == [
        (Collection.ENTRIES, sgv(expected, READING_MS))
    ]


def test_backfilled_reading_takes_its_own_time_not_the_log_time() -> None:
    backfilled = cgm(256, 701, 118, egv="2026-03-10T06:15:00")
    assert only([backfilled]) == [(Collection.ENTRIES, sgv(118, 1_773_137_700_000))]


def test_reading_the_pump_hides_gives_nothing() -> None:
    # G7 status 6 "Do Not Show": Tandem's app shows nothing, so neither does Nightscout.
    assert only([cgm(399, 702, 120, status=6)]) == []


def test_same_reading_logged_twice_is_one_entry() -> None:
    documents = only([cgm(256, 703, 118), cgm(256, 950, 118)])
    assert [d["identifier"] for _, d in documents] == [entry_identifier(DEVICE, READING_MS, "sgv")]


# 279 -> Temp Basal, one per record (as tconnectsync). Duration: to the next record, at most the
# 5 min between records; the newest gets 5 min, where tconnectsync runs it to the end of its
# window (which differs by window and would rewrite the document on every poll).


def test_basal_delivery() -> None:
    first = event(
        279,
        710,
        {
            "commandedRateSource": 3,
            "profileBasalRate": 800,
            "commandedRate": 1050,
            "tempRate": 65535,
            "algorithmRate": 1050,
        },
    )
    second = event(
        279,
        720,
        {
            "commandedRateSource": 1,
            "profileBasalRate": 800,
            "commandedRate": 800,
            "tempRate": 65535,
            "algorithmRate": 65535,
        },
        wall=later(WALL, minutes=3),
    )
    assert only([second, first]) == [
        (
            Collection.TREATMENTS,
            treatment(
                "Temp Basal", 710, absolute=1.05, rate=1.05, duration=3.0, reason="Algorithm"
            ),
        ),
        (
            Collection.TREATMENTS,
            treatment(
                "Temp Basal",
                720,
                WALL_MS + 180_000,
                absolute=0.8,
                rate=0.8,
                duration=5.0,
                reason="Profile",
            ),
        ),
    ]


def test_a_missing_basal_record_is_not_bridged() -> None:
    # tconnectsync would give the first record 20 minutes; the 15 unlogged ones are unknown.
    first = event(
        279,
        712,
        {
            "commandedRateSource": 1,
            "profileBasalRate": 800,
            "commandedRate": 800,
            "tempRate": 65535,
            "algorithmRate": 65535,
        },
    )
    after_gap = event(
        279,
        713,
        {
            "commandedRateSource": 1,
            "profileBasalRate": 800,
            "commandedRate": 800,
            "tempRate": 65535,
            "algorithmRate": 65535,
        },
        wall=later(WALL, minutes=20),
    )
    durations = [d["duration"] for _, d in only([first, after_gap])]
    assert durations == [5.0, 5.0]


def test_suspended_basal_delivery_is_a_zero_temp_basal() -> None:
    record = event(
        279,
        711,
        {
            "commandedRateSource": 0,
            "profileBasalRate": 800,
            "commandedRate": 0,
            "tempRate": 65535,
            "algorithmRate": 65535,
        },
    )
    assert only([record]) == [
        (
            Collection.TREATMENTS,
            treatment("Temp Basal", 711, absolute=0.0, rate=0.0, duration=5.0, reason="Suspended"),
        )
    ]


# Boluses. tconnectsync: one Combo Bolus per 20 with 64's carbs and 65's option text as notes.


def test_bolus_completed() -> None:
    done = event(
        20,
        730,
        {
            "bolusId": 55,
            "completionStatus": 3,
            "iob": 2.5,
            "insulinDelivered": 4.5,
            "insulinRequested": 4.5,
        },
    )
    assert only([done]) == [
        (Collection.TREATMENTS, treatment("Correction Bolus", 730, insulin=4.5))
    ]
    # The identifier rule, pinned: UUIDv5 in the NightscoutRocks! namespace over
    # "nightstream://tandem/0a1b2c3d4e5f_1773144930000_Correction Bolus_1-730".
    assert only([done])[0][1]["identifier"] == "983e7ad6-7a54-5e59-b60c-acd16a468cab"


def test_bolus_stopped_by_the_user_says_what_was_delivered() -> None:
    stopped = event(
        20,
        731,
        {
            "bolusId": 56,
            "completionStatus": 0,
            "iob": 1.0,
            "insulinDelivered": 1.2,
            "insulinRequested": 3.0,
        },
    )
    expected = treatment(
        "Correction Bolus",
        731,
        insulin=1.2,
        notes="Bolus stopped by the user: 1.20 of 3.00 U delivered",
    )
    assert only([stopped]) == [(Collection.TREATMENTS, expected)]


def test_carbs_entered_with_a_bolus_request() -> None:
    request = event(
        64,
        732,
        {
            "correctionBolusIncluded": 0,
            "bolusType": 1,
            "bolusId": 57,
            "bg": 154,
            "carbAmount": 45,
            "iob": 1.2,
            "carbRatio": 10000,
        },
    )
    no_carbs = event(
        64,
        733,
        {
            "correctionBolusIncluded": 1,
            "bolusType": 2,
            "bolusId": 58,
            "bg": 190,
            "carbAmount": 0,
            "iob": 0.4,
            "carbRatio": 10000,
        },
    )
    assert only([request, no_carbs]) == [
        (Collection.TREATMENTS, treatment("Carb Correction", 732, carbs=45))
    ]


def test_extended_part_of_a_bolus() -> None:
    # tconnectsync v3: a Combo Bolus with notes "Extended Bolus" and the insulin; the same here.
    part = event(
        21,
        734,
        {
            "bolusId": 59,
            "completionStatus": 3,
            "iob": 3.0,
            "insulinDelivered": 2.35,
            "insulinRequested": 2.35,
        },
    )
    assert only([part]) == [
        (
            Collection.TREATMENTS,
            treatment("Combo Bolus", 734, insulin=2.35, notes="Extended bolus part"),
        )
    ]


# Suspend and resume (tconnectsync: Basal Suspension with reason UserAborted; Basal Resume).


def test_suspend_and_resume() -> None:
    suspend = event(11, 740, {"rpaTimeout": 30, "suspendReason": 0, "insulinAmount": 120})
    resume = event(
        12, 741, {"preResumeState": 1, "insulinAmount": 120}, wall=later(WALL, minutes=30)
    )
    assert only([suspend, resume]) == [
        (
            Collection.TREATMENTS,
            treatment(
                "Suspend Pump", 740, reason="User Aborted", notes="Pump suspended: User Aborted"
            ),
        ),
        (
            Collection.TREATMENTS,
            treatment("Resume Pump", 741, WALL_MS + 1_800_000, notes="Pump resumed"),
        ),
    ]


# Cartridge, cannula and tubing (tconnectsync: Site Change "Cartridge Filled (200u filled)",
# "Cannula Filled (0.3u primed)", "Tubing Filled").


def test_cartridge_cannula_and_tubing_fills() -> None:
    cartridge = event(33, 750, {"insulinVolume": 200, "v2Volume": 200.0})
    tubing = event(
        63,
        751,
        {"primeSize": -1, "completionStatus": 0, "position": 0},
        wall=later(WALL, seconds=40),
    )
    cannula = event(
        61, 752, {"primeSize": 0.3, "completionStatus": 0}, wall=later(WALL, seconds=90)
    )
    assert only([cartridge, tubing, cannula]) == [
        (Collection.TREATMENTS, treatment("Insulin Change", 750, notes="Cartridge filled (200 U)")),
        (Collection.TREATMENTS, treatment("Note", 751, WALL_MS + 40_000, notes="Tubing filled")),
        (
            Collection.TREATMENTS,
            treatment("Site Change", 752, WALL_MS + 90_000, notes="Cannula filled (0.30 U primed)"),
        ),
    ]


def test_cartridge_without_a_volume_uses_the_older_field() -> None:
    cartridge = event(33, 753, {"insulinVolume": 0, "v2Volume": 180.5})
    assert only([cartridge]) == [
        (
            Collection.TREATMENTS,
            treatment("Insulin Change", 753, notes="Cartridge filled (180.5 U)"),
        )
    ]


# Alarms (tconnectsync: Alarm with the enum name; resume reminders 18/23 skipped; 6 Malfunction).


def test_alarms() -> None:
    empty = event(5, 760, {"alarmId": 8})
    unnamed = event(5, 761, {"alarmId": 41}, wall=later(WALL, seconds=1))
    reminder = event(5, 762, {"alarmId": 18}, wall=later(WALL, seconds=2))
    cleared = event(28, 763, {"alarmId": 8}, wall=later(WALL, seconds=3))
    broken = event(6, 764, {"malfId": 4097}, wall=later(WALL, seconds=4))
    assert only([empty, unnamed, reminder, cleared, broken]) == [
        (
            Collection.TREATMENTS,
            treatment("Alarm", 760, reason="Empty Cartridge", notes="Pump alarm: Empty Cartridge"),
        ),
        (
            Collection.TREATMENTS,
            treatment(
                "Alarm", 761, WALL_MS + 1000, reason="Alarm 41", notes="Pump alarm: Alarm 41"
            ),
        ),
        (
            Collection.TREATMENTS,
            treatment("Alarm", 764, WALL_MS + 4000, reason="Malfunction", notes="Malfunction 4097"),
        ),
    ]


# CGM alerts (tconnectsync: CGM Alert with a name from its table; Dexcom 14 out-of-range skipped;
# names are not in the reference, so the id is shown instead).


def test_cgm_alerts() -> None:
    alert = event(369, 770, {"dalertId": 1, "sensorType": 3})
    out_of_range = event(369, 771, {"dalertId": 14, "sensorType": 3}, wall=later(WALL, seconds=5))
    libre = event(460, 772, {"dalertId": 14, "sensorType": 2}, wall=later(WALL, seconds=6))
    assert only([alert, out_of_range, libre]) == [
        (Collection.TREATMENTS, treatment("CGM Alert", 770, notes="CGM alert 1")),
        (Collection.TREATMENTS, treatment("CGM Alert", 772, WALL_MS + 6000, notes="CGM alert 14")),
    ]


# Sensor sessions (tconnectsync: Sensor Start for start and join, Sensor Stop).


@pytest.mark.parametrize(
    ("code", "event_type", "what"),
    [
        (212, "Sensor Start", "started"),
        (404, "Sensor Start", "started"),
        (394, "Sensor Start", "joined"),
        (477, "Sensor Start", "joined"),
        (447, "Sensor Stop", "stopped"),
        (214, "Sensor Stop", "stopped"),
        (486, "Sensor Stop", "stopped"),
    ],
)
def test_sensor_sessions(code: int, event_type: str, what: str) -> None:
    assert only([event(code, 780, {"joinReason": 0})]) == [
        (Collection.TREATMENTS, treatment(event_type, 780, notes=f"CGM session {what}"))
    ]


# 81 -> devicestatus (tconnectsync: battery voltage and a heuristic percent; the percent is left
# out here: its calibration is untested upstream and the reference calls it a heuristic).


def test_daily_basal_gives_a_devicestatus() -> None:
    daily = event(
        81,
        790,
        {
            "dailyTotalBasal": 17.4,
            "lastBasalRate": 0.65,
            "iob": 0.8,
            "batteryMsb": 15,
            "batteryLsb": 120,
            "batteryLipoMilliVolts": 3980,
        },
    )
    created = _iso(WALL_MS)
    assert only([daily]) == [
        (
            Collection.DEVICESTATUS,
            {
                "date": WALL_MS,
                "created_at": created,
                "utcOffset": EDT,
                "device": DEVICE,
                "pump": {
                    "clock": created,
                    "battery": {"voltage": 3.98},
                    "iob": {"iob": 0.8, "timestamp": created},
                },
                "pump_event_id": "1-790",
                "app": "nightstream",
                "identifier": nightscout_identifier(DEVICE, WALL_MS, "1-790"),
            },
        )
    ]


def test_unmapped_and_unknown_event_codes_give_nothing() -> None:
    quiet = [
        event(90, 800, {"commandedBasalRate": 0.65, "featuresBitmask": [0, 1]}),
        event(313, 801, {"sensorType": 3, "usermode": 0, "pumpControlState": 3}),
        event(999, 802, {"mystery": 7}),
        event(229, 803, {"requestedAction": 1}),
        event(280, 804, {"bolusType": [4]}),
    ]
    output = transform(payload(quiet))
    assert (output.records, output.rejected) == ([], [])


def test_mixed_answer_sorted_by_collection_and_time() -> None:
    events = [
        event(12, 810, {"preResumeState": 1}, wall=later(WALL, minutes=10)),
        cgm(399, 811, 130),
        event(
            20,
            812,
            {"bolusId": 1, "completionStatus": 3, "insulinDelivered": 1.0, "insulinRequested": 1.0},
        ),
    ]
    kinds = [(c.value, d.get("eventType", d.get("type"))) for c, d in only(events)]
    assert kinds == [
        ("entries", "sgv"),
        ("treatments", "Correction Bolus"),
        ("treatments", "Resume Pump"),
    ]

"""How LibreLinkUp writes things: ``M/D/YYYY h:mm:ss AM/PM`` times, glucose items, connections.

``FactoryTimestamp`` is UTC and ``Timestamp`` the same instant on the patient's phone clock,
neither with a zone marker. ``Value`` is in the patient's unit, ``ValueInMgPerDl`` always mg/dL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from nightstream.simulators.kit.glucose import Reading
from nightstream.simulators.librelinkup.accounts import MMOL_L, LluAccount, SimPatient
from nightstream.simulators.librelinkup.feed import SENSOR_WARMUP_MINUTES, TREND_ARROWS, PatientFeed

MGDL_PER_MMOL = 18.0
TARGET_LOW, TARGET_HIGH = 70, 180
_LIBRE_3_DEVICE_TYPE = 40068


def llu_time(epoch_ms: int, zone: tzinfo = UTC) -> str:
    moment = datetime.fromtimestamp(epoch_ms // 1000, zone)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {half}"


def glucose_item(point: Reading, patient: SimPatient, *, current: bool) -> dict[str, object]:
    value: float = point.mgdl
    if patient.units == MMOL_L:
        value = round(point.mgdl / MGDL_PER_MMOL, 1)
    item: dict[str, object] = {
        "FactoryTimestamp": llu_time(point.time_ms),
        "Timestamp": llu_time(point.time_ms, ZoneInfo(patient.time_zone)),
        "type": 1 if current else 0,
        "ValueInMgPerDl": point.mgdl,
    }
    if current:
        item["TrendArrow"] = TREND_ARROWS[point.trend]
    item.update(
        {
            "TrendMessage": None,
            "MeasurementColor": 1 if TARGET_LOW <= point.mgdl <= TARGET_HIGH else 2,
            "GlucoseUnits": patient.units,
            "Value": value,
            "isHigh": point.mgdl > TARGET_HIGH,
            "isLow": point.mgdl < TARGET_LOW,
        }
    )
    return item


def sensor_object(feed: PatientFeed, now_ms: int) -> dict[str, object]:
    return {
        "deviceId": "",
        "sn": feed.serial,
        "a": feed.sensor_start_ms(now_ms) // 1000,
        "w": SENSOR_WARMUP_MINUTES,
        "pt": 4,
        "s": False,
        "lj": False,
    }


def patient_device(feed: PatientFeed, now_ms: int) -> dict[str, object]:
    return {
        "did": f"sim-{feed.serial.lower()}",
        "dtid": _LIBRE_3_DEVICE_TYPE,
        "v": "3.6.5",
        "ll": TARGET_LOW,
        "hl": 250,
        "u": feed.current(now_ms).time_ms // 1000,
        "fixedLowAlarmValues": {"mgdl": 60, "mmoll": 3.3},
        "alarms": False,
        "fixedLowThreshold": 0,
    }


def connection_object(
    account: LluAccount, patient: SimPatient, feed: PatientFeed, now_ms: int
) -> dict[str, object]:
    current = glucose_item(feed.current(now_ms), patient, current=True)
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account.user_id}/{patient.patient_id}")),
        "patientId": patient.patient_id,
        "country": account.region.upper()[:2],
        "status": 2,
        "firstName": patient.first_name,
        "lastName": patient.last_name,
        "targetLow": TARGET_LOW,
        "targetHigh": TARGET_HIGH,
        "uom": patient.units,
        "sensor": sensor_object(feed, now_ms),
        "alarmRules": {"c": True, "h": {"on": True, "th": 250}, "l": {"on": True, "th": 70}},
        "glucoseMeasurement": current,
        "glucoseItem": dict(current),
        "glucoseAlarm": None,
        "patientDevice": patient_device(feed, now_ms),
        "created": account.created_s,
    }


def graph_data(
    account: LluAccount, patient: SimPatient, feed: PatientFeed, now_ms: int, step_ms: int
) -> dict[str, object]:
    return {
        "connection": connection_object(account, patient, feed, now_ms),
        "activeSensors": [
            {"sensor": sensor_object(feed, now_ms), "device": patient_device(feed, now_ms)}
        ],
        "graphData": [
            glucose_item(point, patient, current=False) for point in feed.history(now_ms, step_ms)
        ],
    }

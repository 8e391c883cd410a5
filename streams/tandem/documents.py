"""One checked pump event -> one Nightscout document (or None when it deliberately maps to
nothing), with Nightscout's vocabulary.

Every document stands on its own event: none depends on another event being in the same
answer, so whichever window delivers it, it comes out the same (``eventType`` and ``date`` can
never change once Nightscout has a document). The one exception is a ``Temp Basal``'s
``duration``, which may shorten when the next record comes (see ``temp_basal``).

Identifiers follow the Nightscout rule (UUIDv5 over ``device_date_eventType``) with the event's
sequence group and number appended to the eventType slot, so two events of one type in the same
second stay two documents. Entries use the rule as it is and carry no sequence number: a
reading logged twice (a CGM backfill) is one reading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nightstream.schemas.documents import Collection, NsDocument
from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.identity import entry_identifier, nightscout_identifier
from nightstream.streams.json_values import checked_date, iso_utc, shown
from nightstream.streams.tandem import codes
from nightstream.streams.tandem.events import PROPERTIES, PumpEvent
from nightstream.streams.tandem.values import PumpClock, tandem_seconds
from nightstream.streams.transform import APP_NAME

LOW_SGV = 39
HIGH_SGV = 401
LOWEST_SHOWN = 40
HIGHEST_SHOWN = 400
NO_READING_U16 = 65535
DO_NOT_SHOW = 6
STATUS_HIGH = 1
STATUS_LOW = 2
# A reading is logged when the pump receives it: at most a little before its own time (clock
# skew), at most a day and a bit after it (a G7 backfills up to 24 h).
READING_AHEAD = timedelta(minutes=5)
READING_LATE = timedelta(hours=48)
# Basal deliveries are logged every 5 minutes (and at every change of rate).
NOMINAL_BASAL_MINUTES = 5.0
MAX_INSULIN_UNITS = 100.0
MAX_CARBS_G = 1000

Built = tuple[Collection, NsDocument] | None


@dataclass(frozen=True, slots=True)
class Context:
    device: str
    clock: PumpClock
    fetched_at_ms: int


def _stamped(context: Context, date_ms: int) -> NsDocument:
    return {
        "date": date_ms,
        "created_at": iso_utc(date_ms),
        "utcOffset": context.clock.offset_minutes(date_ms),
    }


def treatment(event: PumpEvent, context: Context, event_type: str, **fields: Any) -> Built:
    date_ms = event.date_ms
    slot = f"{event_type}_{event.sequence}"
    document = {
        "eventType": event_type,
        **_stamped(context, date_ms),
        **fields,
        "pump_event_id": event.sequence,
        "device": context.device,
        "app": APP_NAME,
        "identifier": nightscout_identifier(context.device, date_ms, slot),
    }
    return Collection.TREATMENTS, document


def sgv_entry(event: PumpEvent, context: Context) -> Built:
    """CGM reading (256 G6, 399 G7, 372 Libre 2, 480 Libre 3) -> an ``sgv`` entry at the
    reading's own time (``egvTimeStamp``), clamped as Tandem's web app shows it: Special Low or
    below 40 is 39, Special High or above 400 is 401."""
    name = PROPERTIES + "egvTimeStamp"
    reading = tandem_seconds(event.value("egvTimeStamp"), name)
    if not event.wall - READING_LATE <= reading <= event.wall + READING_AHEAD:
        raise BadRecordError(
            f"{name} ({reading.isoformat()}) is not within 48 h before pumpDateTime "
            f"({event.wall.isoformat()})"
        )
    date_ms = checked_date(context.clock.utc_ms(reading), context.fetched_at_ms, name)
    status = event.whole("glucoseValueStatus", 0, 255)
    value = event.whole("currentGlucoseDisplayValue", 0, NO_READING_U16 - 1)
    if status == DO_NOT_SHOW:
        return None
    if status == STATUS_LOW:
        sgv = LOW_SGV
    elif status == STATUS_HIGH:
        sgv = HIGH_SGV
    elif status == 0 and value > 0:
        sgv = LOW_SGV if value < LOWEST_SHOWN else HIGH_SGV if value > HIGHEST_SHOWN else value
    else:
        raise BadRecordError(
            f"{PROPERTIES}currentGlucoseDisplayValue {value} with glucoseValueStatus {status} "
            "is no reading"
        )
    document = {
        "type": "sgv",
        "sgv": sgv,
        "date": date_ms,
        "dateString": iso_utc(date_ms),
        "utcOffset": context.clock.offset_minutes(date_ms),
        "device": context.device,
        "app": APP_NAME,
        "identifier": entry_identifier(context.device, date_ms, "sgv"),
    }
    return Collection.ENTRIES, document


def temp_basal(event: PumpEvent, context: Context, next_ms: int | None) -> Built:
    """279 -> ``Temp Basal`` (as tconnectsync: one per delivery record), lasting until the next
    record but never longer than the 5 minutes between two records.

    tconnectsync runs each record to the next one, and the newest to the end of its window. Here
    the newest lasts 5 minutes, and so does one followed by a gap (a record that is missing
    says nothing about those minutes): the duration then does not depend on which window
    delivered the record, except for a rate changed within 5 minutes across two windows (a
    later, shorter duration then updates it; Nightscout lets ``duration`` change)."""
    rate = round(event.whole("commandedRate", 0, NO_READING_U16 - 1) / 1000, 3)
    source = event.whole("commandedRateSource", 0, 255)
    minutes = NOMINAL_BASAL_MINUTES
    if next_ms is not None:
        minutes = min(max(next_ms - event.date_ms, 0) / 60_000, NOMINAL_BASAL_MINUTES)
    return treatment(
        event,
        context,
        "Temp Basal",
        absolute=rate,
        rate=rate,
        duration=round(minutes, 2),
        reason=codes.BASAL_SOURCES.get(source, f"source {source}"),
    )


def _insulin(event: PumpEvent, name: str) -> float:
    units = event.number(name)
    if not 0 <= units <= MAX_INSULIN_UNITS:
        raise BadRecordError(f"{PROPERTIES}{name} {shown(units)} is outside 0..100 U")
    return round(units, 2)


def bolus(event: PumpEvent, context: Context) -> Built:
    """20 -> ``Correction Bolus`` with the insulin delivered; a bolus that did not complete says
    so, with what was asked."""
    delivered = _insulin(event, "insulinDelivered")
    status = event.whole("completionStatus", 0, 0xFFFF)
    fields: dict[str, Any] = {"insulin": delivered}
    if status != codes.COMPLETED:
        requested = _insulin(event, "insulinRequested")
        what = codes.BOLUS_COMPLETION.get(status, f"ended with status {status}")
        fields["notes"] = f"Bolus {what}: {delivered:.2f} of {requested:.2f} U delivered"
    return treatment(event, context, "Correction Bolus", **fields)


def extended_bolus(event: PumpEvent, context: Context) -> Built:
    """21 -> ``Combo Bolus`` with the extended part's insulin, when it finished (as v3)."""
    delivered = _insulin(event, "insulinDelivered")
    return treatment(event, context, "Combo Bolus", insulin=delivered, notes="Extended bolus part")


def carbs(event: PumpEvent, context: Context) -> Built:
    """64 with carbs -> ``Carb Correction`` at the time they were entered."""
    grams = event.whole("carbAmount", 0, MAX_CARBS_G)
    return None if grams == 0 else treatment(event, context, "Carb Correction", carbs=grams)


def suspended(event: PumpEvent, context: Context) -> Built:
    reason = event.whole("suspendReason", 0, 255)
    name = codes.SUSPEND_REASONS.get(reason, f"reason {reason}")
    return treatment(event, context, "Suspend Pump", reason=name, notes=f"Pump suspended: {name}")


def resumed(event: PumpEvent, context: Context) -> Built:
    return treatment(event, context, "Resume Pump", notes="Pump resumed")


def cartridge(event: PumpEvent, context: Context) -> Built:
    """33 -> ``Insulin Change`` (Nightscout's reservoir age), with the volume filled."""
    volume = float(event.whole("insulinVolume")) if "insulinVolume" in event.properties else 0.0
    if volume <= 0 and "v2Volume" in event.properties:
        volume = event.number("v2Volume")
    notes = f"Cartridge filled ({volume:g} U)" if volume > 0 else "Cartridge filled"
    return treatment(event, context, "Insulin Change", notes=notes)


def _primed(event: PumpEvent, what: str) -> str:
    size = event.number("primeSize")  # -1 means "not told" on tubing fills
    return f"{what} filled ({size:.2f} U primed)" if size > 0 else f"{what} filled"


def cannula(event: PumpEvent, context: Context) -> Built:
    """61 -> ``Site Change`` (Nightscout's cannula age)."""
    return treatment(event, context, "Site Change", notes=_primed(event, "Cannula"))


def tubing(event: PumpEvent, context: Context) -> Built:
    """63 -> a ``Note``: tubing is filled at every cartridge change too, so it is no site change."""
    return treatment(event, context, "Note", notes=_primed(event, "Tubing"))


def alarm(event: PumpEvent, context: Context) -> Built:
    alarm_id = event.whole("alarmId")
    if alarm_id in codes.RESUME_ALARMS:
        return None
    name = codes.ALARM_NAMES.get(alarm_id, f"Alarm {alarm_id}")
    return treatment(event, context, "Alarm", reason=name, notes=f"Pump alarm: {name}")


def malfunction(event: PumpEvent, context: Context) -> Built:
    code = event.whole("malfId")
    return treatment(event, context, "Alarm", reason="Malfunction", notes=f"Malfunction {code}")


def cgm_alert(event: PumpEvent, context: Context) -> Built:
    alert_id = event.whole("dalertId")
    if event.code in codes.DEXCOM_CGM_ALERTS and alert_id == codes.DEXCOM_OUT_OF_RANGE:
        return None
    return treatment(event, context, "CGM Alert", notes=f"CGM alert {alert_id}")


def sensor(event_type: str, what: str) -> Callable[[PumpEvent, Context], Built]:
    def build(event: PumpEvent, context: Context) -> Built:
        return treatment(event, context, event_type, notes=f"CGM session {what}")

    return build


def daily_status(event: PumpEvent, context: Context) -> Built:
    """81 -> ``devicestatus``: the pump's clock, battery voltage and IOB, and nothing else.

    Not available from Tandem Source (so not written): battery percent (only an uncalibrated
    heuristic exists), reservoir, Control-IQ state and predictions. The reference says the BFF
    stopped sending event 81 for the X2 and Mobi; when it comes, this is what it says.
    """
    millivolts = event.whole("batteryLipoMilliVolts", 1, NO_READING_U16 - 1)
    iob = event.number("iob")
    stamp = iso_utc(event.date_ms)
    document = {
        **_stamped(context, event.date_ms),
        "device": context.device,
        "pump": {
            "clock": stamp,
            "battery": {"voltage": round(millivolts / 1000, 3)},
            "iob": {"iob": round(iob, 2), "timestamp": stamp},
        },
        "pump_event_id": event.sequence,
        "app": APP_NAME,
        "identifier": nightscout_identifier(context.device, event.date_ms, event.sequence),
    }
    return Collection.DEVICESTATUS, document


BUILDERS: dict[int, Callable[[PumpEvent, Context], Built]] = {
    **dict.fromkeys(codes.CGM_READINGS, sgv_entry),
    codes.BOLUS_COMPLETED: bolus,
    codes.BOLEX_COMPLETED: extended_bolus,
    codes.BOLUS_REQUESTED: carbs,
    codes.SUSPENDED: suspended,
    codes.RESUMED: resumed,
    codes.CARTRIDGE_FILLED: cartridge,
    codes.CANNULA_FILLED: cannula,
    codes.TUBING_FILLED: tubing,
    codes.ALARM: alarm,
    codes.MALFUNCTION: malfunction,
    **dict.fromkeys(codes.CGM_ALERTS, cgm_alert),
    **dict.fromkeys(codes.SENSOR_STARTED, sensor("Sensor Start", "started")),
    **dict.fromkeys(codes.SENSOR_JOINED, sensor("Sensor Start", "joined")),
    **dict.fromkeys(codes.SENSOR_STOPPED, sensor("Sensor Stop", "stopped")),
    codes.DAILY_BASAL: daily_status,
}

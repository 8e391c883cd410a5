"""One LibreLinkUp glucose item -> one Nightscout ``sgv`` entry.

- ``sgv`` is always ``ValueInMgPerDl``; ``Value`` follows the patient's display unit.
- ``date`` is ``FactoryTimestamp`` read as UTC; ``utcOffset`` is how far the phone-local
  ``Timestamp`` runs ahead of it. An item without a usable ``Timestamp`` is rejected rather
  than given a guessed offset: Nightscout never lets ``utcOffset`` change afterwards.
- ``direction`` only on the current reading, from ``TrendArrow`` (1-5; anything else is
  ``NOT COMPUTABLE``, as in the peers). History points carry no arrow, and writing one would
  claim a trend nobody measured, so they get no ``direction`` at all (as nightscout-librelink-up
  does; nightscout-connect's ``NOT COMPUTABLE`` would also overwrite nothing but says less).
- No ``trend`` number: the peers send none for LibreLinkUp.
"""

from __future__ import annotations

from typing import Any

from nightstream.schemas.documents import NsDocument
from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.identity import entry_identifier
from nightstream.streams.json_text import json_kind
from nightstream.streams.json_values import checked_date, iso_utc, required, shown, whole_number
from nightstream.streams.librelinkup.timestamps import digits_as_utc_ms, utc_offset_minutes
from nightstream.streams.transform import APP_NAME

# Libre sensors report 40-500 mg/dL (LO/HI beyond); one step of slack each side.
MIN_SGV = 39
MAX_SGV = 501
DIRECTIONS = {1: "SingleDown", 2: "FortyFiveDown", 3: "Flat", 4: "FortyFiveUp", 5: "SingleUp"}
NOT_COMPUTABLE = "NOT COMPUTABLE"


def direction(arrow: Any) -> str:
    if isinstance(arrow, bool) or not isinstance(arrow, int):
        return NOT_COMPUTABLE
    return DIRECTIONS.get(arrow, NOT_COMPUTABLE)


def entry(item: Any, device: str, fetched_at_ms: int, *, current: bool) -> NsDocument:
    if not isinstance(item, dict):
        raise BadRecordError(f"is a JSON {json_kind(item)}, expected an object")
    factory = digits_as_utc_ms(required(item, "FactoryTimestamp"), "FactoryTimestamp")
    date = checked_date(factory, fetched_at_ms, "FactoryTimestamp")
    utc_offset = utc_offset_minutes(required(item, "Timestamp"), date)
    sgv = whole_number(required(item, "ValueInMgPerDl"), "ValueInMgPerDl")
    if not MIN_SGV <= sgv <= MAX_SGV:
        raise BadRecordError(
            f"ValueInMgPerDl {shown(sgv)} is outside the plausible {MIN_SGV}..{MAX_SGV} mg/dL"
        )
    document: NsDocument = {
        "type": "sgv",
        "sgv": sgv,
        "date": date,
        "dateString": iso_utc(date),
        "utcOffset": utc_offset,
    }
    if current:
        document["direction"] = direction(item.get("TrendArrow"))
    document.update(device=device, app=APP_NAME, identifier=entry_identifier(device, date, "sgv"))
    return document

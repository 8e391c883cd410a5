"""How API v1 stores uploads (`lib/server/{entries,treatments,devicestatus}.js`).

Each collection has its own upsert key: entries merge on ``sysTime`` + ``type``; treatments
replace on ``identifier``, else ``_id``, else ``created_at`` + ``eventType``; devicestatus never
deduplicates. v1 documents get no ``srvModified``/``srvCreated`` and usually no ``identifier``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout.dates import (
    ParsedDate,
    parse_iso8601,
    parse_js_date,
    parse_rfc2822,
    to_iso_string,
)
from nightstream.simulators.nightscout.identifiers import is_object_id_hex, new_object_id
from nightstream.simulators.nightscout.matching import bson_equal
from nightstream.simulators.nightscout.responses import StorageError
from nightstream.simulators.nightscout.settings import ServerSettings
from nightstream.simulators.nightscout.storage import (
    CollectionStore,
    DuplicateKeyError,
    StoredDocument,
)

_TREATMENT_NUMBER_FIELDS = (
    "glucose",
    "targetTop",
    "targetBottom",
    "carbs",
    "insulin",
    "duration",
    "percent",
    "absolute",
    "relative",
    "preBolus",
)
_TREATMENT_DROPPED_WHEN_EMPTY = (
    "targetTop",
    "targetBottom",
    "carbs",
    "insulin",
    "percent",
    "relative",
    "notes",
    "preBolus",
)
_PREDICTION_KEYS = ("IOB", "COB", "UAM", "ZT")


def _parse_moment_string(text: str) -> ParsedDate | None:
    """``moment(text)``/``moment.parseZone(text)`` without a format: ISO, RFC 2822, Date."""
    parsed = parse_iso8601(text) or parse_rfc2822(text)
    if parsed is not None:
        return parsed
    epoch_ms = parse_js_date(text)
    return ParsedDate(epoch_ms, 0) if epoch_ms is not None else None


def _parse_moment(value: Any, *, keep_zone: bool = True) -> ParsedDate | None:
    """``moment.parseZone(value)``, or ``moment(value)`` (server zone, UTC) without keep_zone."""
    parsed: ParsedDate | None = None
    if js.is_number(value):
        epoch_ms = js.truncate_to_date_ms(float(value))
        parsed = ParsedDate(epoch_ms, 0) if epoch_ms is not None else None
    elif isinstance(value, str):
        parsed = _parse_moment_string(value)
    if parsed is not None and not keep_zone:
        parsed = ParsedDate(parsed.epoch_ms, 0)
    return parsed


def _now(settings: ServerSettings) -> ParsedDate:
    return ParsedDate(settings.now_ms(), 0)


def _move_uuid_id_to_identifier(document: dict[str, Any], settings: ServerSettings) -> None:
    """REQ-SYNC-072 (UUID_HANDLING): a non-ObjectId ``_id`` becomes the identifier."""
    object_id = document.get("_id")
    if isinstance(object_id, str) and not is_object_id_hex(object_id):
        if settings.uuid_handling and not js.is_truthy(document.get("identifier")):
            document["identifier"] = object_id
        del document["_id"]


def _insert(
    collection: CollectionStore, fields: dict[str, Any], settings: ServerSettings
) -> StoredDocument:
    object_id = fields.pop("_id", None)
    if not is_object_id_hex(object_id):
        object_id = new_object_id(settings.clock())
    try:
        return collection.insert(fields, str(object_id).lower())
    except DuplicateKeyError as error:
        raise StorageError(str(error)) from error


def _first_match(collection: CollectionStore, query: dict[str, Any]) -> StoredDocument | None:
    for stored in collection:
        if all(
            bson_equal(stored.fields.get(field), value)
            if value is not None
            else stored.fields.get(field) is None
            for field, value in query.items()
        ):
            return stored
    return None


# -- entries ----------------------------------------------------------------------------


def upload_entries(
    collection: CollectionStore, documents: list[dict[str, Any]], settings: ServerSettings
) -> list[dict[str, Any]]:
    return [_upsert_entry(collection, document, settings) for document in documents]


def _upsert_entry(
    collection: CollectionStore, document: dict[str, Any], settings: ServerSettings
) -> dict[str, Any]:
    _move_uuid_id_to_identifier(document, settings)
    # dateString keeps its zone; date is read in the server's zone; neither means now. A
    # given but unparseable value is an invalid moment: no sysTime, no utcOffset.
    sys_time: ParsedDate | None
    if js.is_truthy(document.get("dateString")):
        sys_time = _parse_moment(document["dateString"])
    elif js.is_truthy(document.get("date")):
        sys_time = _parse_moment(document["date"], keep_zone=False)
    else:
        sys_time = _now(settings)
    document["utcOffset"] = sys_time.utc_offset_minutes if sys_time else None
    document["sysTime"] = to_iso_string(sys_time.epoch_ms) if sys_time else None
    if js.is_truthy(document.get("dateString")):
        document["dateString"] = document["sysTime"]
    if js.is_truthy(document.get("sysTime")) and js.is_truthy(document.get("type")):
        query = {"sysTime": document["sysTime"], "type": document["type"]}
    else:
        query = {key: value for key, value in document.items() if key != "_id"}
    existing = _first_match(collection, query)
    if existing is not None:
        merged = copy.deepcopy(existing.fields)
        merged.update({key: value for key, value in document.items() if key != "_id"})
        collection.replace(existing, merged)
        return document
    inserted = _insert(collection, {**query, **document}, settings)
    return {**document, "_id": inserted.object_id}


# -- treatments -------------------------------------------------------------------------


def upload_treatments(
    collection: CollectionStore, documents: list[dict[str, Any]], settings: ServerSettings
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for document in documents:
        if not js.is_truthy(document.get("created_at")):
            document["created_at"] = to_iso_string(settings.now_ms())
        results.extend(_upsert_treatment(collection, document, settings))
    return results


def prepare_treatment(document: dict[str, Any], settings: ServerSettings) -> tuple[str, Any]:
    """`prepareData`: UTC ``created_at``, ``utcOffset``, numbers coerced, empties dropped.
    Returns the ``created_at`` of the fallback upsert key and the carbs of a pre-bolus."""
    parsed = _parse_moment(document.get("created_at")) or _now(settings)
    document["created_at"] = to_iso_string(parsed.epoch_ms)
    document["utcOffset"] = parsed.utc_offset_minutes
    for field in _TREATMENT_NUMBER_FIELDS:
        document[field] = js.to_number(document.get(field, js.UNDEFINED))
    if js.is_truthy(document.get("eventTime")):
        event_ms = parse_js_date(js.to_string(document["eventTime"]))
        if event_ms is not None:
            document["created_at"] = to_iso_string(event_ms)
    pre_bolus_carbs: Any = ""
    if js.is_truthy(document["preBolus"]) and js.is_truthy(document.get("carbs")):
        pre_bolus_carbs = document.pop("carbs")
    if document.get("eventType") == "Announcement":
        document["isAnnouncement"] = True
    document.pop("eventTime", None)
    for field in _TREATMENT_DROPPED_WHEN_EMPTY:
        if field in document and not js.is_truthy(document[field]):
            del document[field]
    for field in ("absolute", "duration"):
        if math.isnan(document[field]):
            del document[field]
    if not js.is_truthy(document["glucose"]):  # 0 or NaN
        for field in ("glucose", "glucoseType", "units"):
            document.pop(field, None)
    for field, value in document.items():
        if js.is_number(value):
            document[field] = js.normalize_number(value)
    return str(document["created_at"]), pre_bolus_carbs


def _upsert_treatment(
    collection: CollectionStore, document: dict[str, Any], settings: ServerSettings
) -> list[dict[str, Any]]:
    _move_uuid_id_to_identifier(document, settings)
    created_at, pre_bolus_carbs = prepare_treatment(document, settings)
    existing: StoredDocument | None
    if js.is_truthy(document.get("identifier")):
        document.pop("_id", None)
        identifier = document["identifier"]
        existing = next(
            (
                stored
                for stored in collection
                if bson_equal(stored.fields.get("identifier"), identifier)
            ),
            None,
        )
    elif document.get("_id") not in (None, ""):
        existing = collection.by_object_id(js.to_string(document["_id"]))
    else:
        existing = _first_match(
            collection, {"created_at": created_at, "eventType": document.get("eventType")}
        )
    echoed = [_replace_or_insert(collection, existing, document, settings)]
    if js.is_truthy(document.get("preBolus")):
        echoed.append(
            _upsert_pre_bolus_carbs(collection, document, created_at, pre_bolus_carbs, settings)
        )
    return echoed


def _replace_or_insert(
    collection: CollectionStore,
    existing: StoredDocument | None,
    document: dict[str, Any],
    settings: ServerSettings,
) -> dict[str, Any]:
    if existing is None:
        inserted = _insert(collection, dict(document), settings)
        return {**document, "_id": inserted.object_id}
    collection.replace(existing, {k: v for k, v in document.items() if k != "_id"})
    if js.is_truthy(document.get("identifier")):
        return {**document, "_id": existing.object_id}
    return document


def _upsert_pre_bolus_carbs(
    collection: CollectionStore,
    document: dict[str, Any],
    created_at: str,
    carbs: Any,
    settings: ServerSettings,
) -> dict[str, Any]:
    """A pre-bolus also records its carbs as a treatment ``preBolus`` minutes later."""
    start_ms = parse_js_date(created_at) or 0
    carbs_treatment: dict[str, Any] = {
        "created_at": to_iso_string(start_ms + int(js.to_number(document["preBolus"]) * 60_000)),
        "eventType": document.get("eventType"),
        "carbs": carbs,
    }
    if js.is_truthy(document.get("notes")):
        carbs_treatment["notes"] = document["notes"]
    existing = _first_match(
        collection,
        {"created_at": carbs_treatment["created_at"], "eventType": carbs_treatment["eventType"]},
    )
    if existing is not None:
        collection.replace(existing, dict(carbs_treatment))
        return carbs_treatment
    inserted = _insert(collection, dict(carbs_treatment), settings)
    return {**carbs_treatment, "_id": inserted.object_id}


# -- devicestatus -----------------------------------------------------------------------


def first_invalid_object_id(documents: list[dict[str, Any]]) -> tuple[bool, Any]:
    for document in documents:
        object_id = document.get("_id")
        if object_id is not None and not is_object_id_hex(object_id):
            return True, object_id
    return False, None


def upload_devicestatus(
    collection: CollectionStore, documents: list[dict[str, Any]], settings: ServerSettings
) -> list[dict[str, Any]]:
    """Plain inserts, in order; a duplicate ``_id`` stops the batch (earlier ones stay)."""
    results = []
    for document in documents:
        parsed = _parse_moment(document.get("created_at")) or _now(settings)
        document["created_at"] = to_iso_string(parsed.epoch_ms)
        document["utcOffset"] = parsed.utc_offset_minutes
        _truncate_predictions(document, settings.predictions_max_size)
        inserted = _insert(collection, dict(document), settings)
        results.append({**document, "_id": inserted.object_id})
    return results


def _truncate_predictions(document: dict[str, Any], max_size: int) -> None:
    if max_size <= 0:
        return
    openaps = document.get("openaps")
    if not isinstance(openaps, dict):
        return
    for stage in ("suggested", "enacted"):
        stage_document = openaps.get(stage)
        predictions = stage_document.get("predBGs") if isinstance(stage_document, dict) else None
        if isinstance(predictions, dict):
            for key in _PREDICTION_KEYS:
                if isinstance(predictions.get(key), list):
                    predictions[key] = predictions[key][:max_size]

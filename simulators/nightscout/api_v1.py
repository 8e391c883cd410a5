"""Minimal API v1, as old uploaders and sites use it: POST and GET of entries, treatments and
devicestatus (`lib/api/{entries,treatments,devicestatus}/index.js`).

Every route needs ``api:<col>:read`` (anonymous callers get AUTH_DEFAULT_ROLES); POST also needs
``api:<col>:create``. Failures are 401 ``Unauthorized`` (v1 never answers 403).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from aiohttp import web

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout import v1_uploads
from nightstream.simulators.nightscout.authentication import authenticate_v1
from nightstream.simulators.nightscout.dates import parse_js_date, to_iso_string
from nightstream.simulators.nightscout.matching import (
    FieldFilter,
    FilterOperator,
    matches_all,
    sort_key,
)
from nightstream.simulators.nightscout.request_body import (
    V1_BODY_LIMIT_BYTES,
    V1_DEVICESTATUS_BODY_LIMIT_BYTES,
    BodyParseError,
    read_json_body,
)
from nightstream.simulators.nightscout.responses import (
    StorageError,
    json_response,
    v1_status_response,
    v1_unauthorized,
)
from nightstream.simulators.nightscout.settings import ServerSettings
from nightstream.simulators.nightscout.state import STATE_KEY, ServerState
from nightstream.simulators.nightscout.stats import COLLECTION_LABEL
from nightstream.simulators.nightscout.storage import CollectionStore

FOUR_DAYS_MS: Final = 4 * 24 * 3600 * 1000  # `lib/server/query.js`: TWO_DAYS * 2
_FIND_PARAMETER = re.compile(r"find\[([^\]]+)\](?:\[\$([a-z]+)\])?")
_FIND_OPERATORS: Final = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"}

Uploader = Callable[[CollectionStore, list[dict[str, Any]], ServerSettings], list[dict[str, Any]]]


@dataclass(frozen=True)
class V1Collection:
    name: str
    body_limit_bytes: int
    date_field: str
    epoch_dates: bool  # entries compare `date` as ms, the others `created_at` as ISO text
    default_count: int
    integer_fields: tuple[str, ...]


V1_COLLECTIONS: Final = {
    "entries": V1Collection(
        "entries",
        V1_BODY_LIMIT_BYTES,
        "date",
        True,
        10,
        ("date", "sgv", "filtered", "unfiltered", "rssi", "noise", "mbg"),
    ),
    "treatments": V1Collection(
        "treatments", V1_BODY_LIMIT_BYTES, "created_at", False, 100, ("insulin", "carbs", "glucose")
    ),
    "devicestatus": V1Collection(
        "devicestatus", V1_DEVICESTATUS_BODY_LIMIT_BYTES, "created_at", False, 10, ()
    ),
}


def _collection_from_path(request: web.Request) -> V1Collection | None:
    name = request.match_info["name"].removesuffix(".json")
    collection = V1_COLLECTIONS.get(name)
    if collection is not None:
        request[COLLECTION_LABEL] = name
    return collection


async def _authorized(state: ServerState, request: web.Request, permissions: list[str]) -> bool:
    authorization = await authenticate_v1(state, request)
    return authorization is not None and all(authorization.allows(p) for p in permissions)


def _incoming_documents(collection: V1Collection, body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict):
        return []
    if collection.name == "entries" and "date" not in body:
        return []  # a single entry without `date` is silently ignored
    return [body]


async def post_collection(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    collection = _collection_from_path(request)
    if collection is None:
        return web.Response(status=404, text="Cannot POST " + request.path)
    try:
        body = await read_json_body(request, collection.body_limit_bytes)
    except BodyParseError as error:
        return web.Response(status=error.status, text=str(error))
    permissions = [f"api:{collection.name}:read", f"api:{collection.name}:create"]
    if not await _authorized(state, request, permissions):
        return v1_unauthorized()
    documents = _incoming_documents(collection, body)
    store = state.store.collection(collection.name)
    if collection.name == "devicestatus":
        invalid, object_id = v1_uploads.first_invalid_object_id(documents)
        if invalid:
            return v1_status_response(
                400,
                "Invalid _id format",
                "Must be 24-character hex string or omit for auto-generation. Got: "
                + js.to_string(object_id),
            )
    uploaders: dict[str, Uploader] = {
        "entries": v1_uploads.upload_entries,
        "treatments": v1_uploads.upload_treatments,
        "devicestatus": v1_uploads.upload_devicestatus,
    }
    try:
        echoed = uploaders[collection.name](store, documents, state.settings)
    except StorageError as error:
        return v1_status_response(500, "Mongo Error", str(error))
    return json_response(echoed)


async def get_collection(request: web.Request) -> web.Response:
    """``?count=`` (default 10, treatments 100) newest first; ``find[field]`` and
    ``find[field][$op]`` filters. Without a date filter only the last four days are listed."""
    state = request.app[STATE_KEY]
    collection = _collection_from_path(request)
    if collection is None:
        return web.Response(status=404, text="Cannot GET " + request.path)
    if not await _authorized(state, request, [f"api:{collection.name}:read"]):
        return v1_unauthorized()
    try:
        conditions = _find_conditions(collection, request, state.settings.now_ms())
    except ValueError as error:
        return web.Response(status=500, text=str(error))
    count_text = request.query.get("count", "")
    count = js.parse_int(count_text) if count_text else float(collection.default_count)
    selected = [
        stored
        for stored in state.store.collection(collection.name)
        if matches_all(stored.fields, conditions)
    ]
    ordered = sorted(
        selected, key=lambda stored: sort_key(stored.fields, [collection.date_field]), reverse=True
    )
    if not math.isnan(count) and count > 0:
        ordered = ordered[: int(count)]
    return json_response([stored.as_mongo_document() for stored in ordered])


def _find_value(collection: V1Collection, field: str, text: str) -> Any:
    if field in collection.integer_fields:
        number = js.parse_int(text)
        return text if math.isnan(number) else int(number)
    return text


def _find_conditions(
    collection: V1Collection, request: web.Request, now_ms: int
) -> list[FieldFilter]:
    conditions: list[FieldFilter] = []
    for parameter, text in request.query.items():
        match = _FIND_PARAMETER.fullmatch(parameter)
        if match is None:
            continue
        field, operator = match.group(1), match.group(2) or "eq"
        if operator not in _FIND_OPERATORS:
            continue
        value = _find_value(collection, field, text)
        if (
            field == collection.date_field
            and isinstance(value, str)
            and math.isnan(js.string_to_number(value))
        ):
            epoch_ms = parse_js_date(value.replace(" ", "+"))
            if epoch_ms is None:
                raise ValueError(f"Cannot parse {value} as a valid ISO-8601 date")
            value = to_iso_string(epoch_ms)
        conditions.append(FieldFilter(field, cast(FilterOperator, operator), value))
    constrained = {condition.field for condition in conditions}
    if collection.date_field not in constrained and "dateString" not in constrained:
        since = now_ms - FOUR_DAYS_MS
        bound: Any = since if collection.epoch_dates else to_iso_string(since)
        conditions.append(FieldFilter(collection.date_field, "gte", bound))
    return conditions

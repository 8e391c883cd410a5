"""``/api/v3/version``, ``/status`` and ``/lastModified`` (`lib/api3/specific/*`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout.auth import Authorization
from nightstream.simulators.nightscout.authentication import authenticate_v3
from nightstream.simulators.nightscout.collection_specs import COLLECTIONS, CollectionSpec
from nightstream.simulators.nightscout.dates import parse_js_date
from nightstream.simulators.nightscout.matching import bson_sort_key
from nightstream.simulators.nightscout.responses import json_response
from nightstream.simulators.nightscout.settings import API3_VERSION, NIGHTSCOUT_VERSION
from nightstream.simulators.nightscout.storage import CollectionStore
from nightstream.simulators.nightscout.v3_context import V3Call

STORAGE_INFO = {"storage": "mongodb", "version": "4.4.0"}


def _version_info(call: V3Call) -> dict[str, Any]:
    return {
        "version": NIGHTSCOUT_VERSION,
        "apiVersion": API3_VERSION,
        "srvDate": call.now_ms(),
        "storage": dict(STORAGE_INFO),
    }


async def version(call: V3Call) -> web.Response:
    return json_response({"status": 200, "result": _version_info(call)})


async def status(call: V3Call) -> web.Response:
    authorization = await authenticate_v3(call.state, call.request)
    info = _version_info(call)
    info["apiPermissions"] = {
        name: permissions
        for name in COLLECTIONS
        if (permissions := _reported_permissions(authorization))
    }
    return json_response({"status": 200, "result": info})


def _reported_permissions(authorization: Authorization) -> str:
    # The real `permsForCol` receives the collection *name*, so it checks
    # "api:undefined:<op>": only wildcard grants ever show up.
    return "".join(
        letter
        for letter, operation in (("c", "create"), ("r", "read"), ("u", "update"), ("d", "delete"))
        if authorization.allows(f"api:undefined:{operation}")
    )


async def last_modified(call: V3Call) -> web.Response:
    authorization = await authenticate_v3(call.state, call.request)
    collections: dict[str, Any] = {}
    for name, spec in COLLECTIONS.items():
        if not authorization.allows(f"api:{name}:read"):
            continue
        newest = _collection_last_modified(call.state.store.collection(name), spec)
        if js.is_truthy(newest):
            collections[name] = newest
    return json_response(
        {"status": 200, "result": {"srvDate": call.now_ms(), "collections": collections}}
    )


def _top_value(collection: CollectionStore, field: str) -> Any:
    """The field of the first document when sorting on it descending (BSON order)."""
    documents = list(collection)
    if not documents:
        return js.UNDEFINED
    top = max(documents, key=lambda stored: bson_sort_key(stored.fields.get(field)))
    return top.fields.get(field, js.UNDEFINED)


def _collection_last_modified(collection: CollectionStore, spec: CollectionSpec) -> Any:
    if len(collection) == 0:
        return None
    stored_modified = _top_value(collection, "srvModified")
    result: Any = stored_modified if js.is_truthy(stored_modified) else None
    if spec.fallback_date_field:
        fallback = _top_value(collection, spec.fallback_date_field)
        if js.is_truthy(fallback):
            timestamp = parse_js_date(fallback) if isinstance(fallback, str) else fallback
            timestamp = float("nan") if timestamp is None else timestamp
            if result is None or (
                js.is_number(result) and js.is_number(timestamp) and result < timestamp
            ):
                result = timestamp
    return result

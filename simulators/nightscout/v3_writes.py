"""API v3 writes: CREATE (POST), UPDATE (PUT), PATCH and DELETE (`lib/api3/generic/*`)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout.auth import Authorization
from nightstream.simulators.nightscout.authentication import authenticate_v3, demand
from nightstream.simulators.nightscout.dates import floor_seconds, parse_js_date, to_utc_string
from nightstream.simulators.nightscout.identifiers import new_object_id
from nightstream.simulators.nightscout.normalization import (
    normalize_treatment_duration,
    parse_date,
    resolve_dates,
    resolve_identifier,
)
from nightstream.simulators.nightscout.responses import ApiError, StorageError, json_response
from nightstream.simulators.nightscout.storage import StoredDocument
from nightstream.simulators.nightscout.v3_context import V3Call
from nightstream.simulators.nightscout.validation import (
    is_read_only,
    validate_change,
    validate_insert,
)


def _document_from_body(body: Any) -> dict[str, Any]:
    if js.is_empty(body):
        raise ApiError(400, msg.BAD_REQUEST_BODY)
    # A non-empty array has none of the document's fields: it fails validation like `{}`
    # would, after the same permission checks.
    return body if isinstance(body, dict) else {}


def _permission(call: V3Call, operation: str) -> str:
    return f"api:{call.collection_name}:{operation}"


async def create(call: V3Call) -> web.Response:
    authorization = await authenticate_v3(call.state, call.request)
    document = _document_from_body(call.body)
    settings = call.state.settings
    parse_date(document, created_at_fallback=settings.api3_created_at_fallback_enabled)
    resolve_identifier(document)
    assert call.spec is not None
    fallback_fields = (
        call.spec.dedup_fallback_fields if settings.api3_dedup_fallback_enabled else ()
    )
    found = call.collection.find_identifying(document.get("identifier"), document, fallback_fields)
    if found:
        stored = found[0]
        return _replace(call, authorization, document, stored, stored.normalized(), dedup=True)
    return _insert(call, authorization, document)


async def update(call: V3Call, identifier: str) -> web.Response:
    authorization = await authenticate_v3(call.state, call.request)
    document = _document_from_body(call.body)
    parse_date(document, created_at_fallback=call.state.settings.api3_created_at_fallback_enabled)
    resolve_identifier(document)
    found = call.collection.find_for_one(identifier)
    document["identifier"] = identifier  # the URL wins over the body
    if not found:
        return _insert(call, authorization, document)
    stored = found[0]
    stored_view = stored.normalized()
    if stored_view.get("isValid") is False:
        raise ApiError(410)
    _check_unmodified_since(call, stored_view)
    return _replace(call, authorization, document, stored, stored_view, dedup=False)


def _check_unmodified_since(call: V3Call, stored_view: dict[str, Any]) -> None:
    assert call.spec is not None
    modified = resolve_dates(call.spec, stored_view)
    header = call.request.headers.get("If-Unmodified-Since")
    if not header:
        return
    if modified is None:
        raise StorageError("document has no modification date to compare")
    since = parse_js_date(header)
    if since is not None and floor_seconds(modified) > floor_seconds(since):
        raise ApiError(412)


def _insert(call: V3Call, authorization: Authorization, document: dict[str, Any]) -> web.Response:
    demand(authorization, _permission(call, "create"))
    validate_insert(document)
    # Built from the request path, so a PUT gets /api/v3/{col}/{id}/{id}, as the real one does.
    location = call.location(document["identifier"])
    now = call.now_ms()
    document["srvModified"] = now
    document["srvCreated"] = now
    if authorization.subject_name:
        document["subject"] = authorization.subject_name
    document.pop("_id", None)
    call.collection.insert(document, new_object_id(now / 1000))
    headers = {"Last-Modified": to_utc_string(now), "Location": location}
    body = {"status": 201, "identifier": document["identifier"], "lastModified": now}
    return json_response(body, 201, headers)


def _replace(
    call: V3Call,
    authorization: Authorization,
    document: dict[str, Any],
    stored: StoredDocument,
    stored_view: dict[str, Any],
    *,
    dedup: bool,
) -> web.Response:
    """The whole stored document is replaced by ``document`` (omitted fields disappear)."""
    demand(authorization, _permission(call, "update"))
    validate_change(document, stored_view, is_deduplication=dedup)
    now = call.now_ms()
    document["srvModified"] = now
    stored_created = stored_view.get("srvCreated")
    document["srvCreated"] = stored_created if js.is_truthy(stored_created) else now
    if authorization.subject_name:
        document["subject"] = authorization.subject_name
    normalize_treatment_duration(document)
    document.pop("_id", None)
    call.collection.replace(stored, document)
    headers = {"Last-Modified": to_utc_string(now)}
    body: dict[str, Any] = {"status": 200, "lastModified": now}
    identifier_changed = not js.strict_equals(stored_view["identifier"], document["identifier"])
    if identifier_changed or dedup:
        headers["Location"] = call.location(document["identifier"])
        body["identifier"] = document["identifier"]
        body["isDeduplication"] = True
        if identifier_changed:
            body["deduplicatedIdentifier"] = stored_view["identifier"]
    return json_response(body, 200, headers)


async def patch(call: V3Call, identifier: str) -> web.Response:
    """Sets the given fields (dotted paths reach into sub-documents); cannot remove fields."""
    authorization = await authenticate_v3(call.state, call.request)
    if js.is_empty(call.body):
        raise ApiError(400, msg.BAD_REQUEST_BODY)
    demand(authorization, _permission(call, "update"))
    found = call.collection.find_for_one(identifier)
    if not found:
        raise ApiError(404)
    stored = found[0]
    stored_view = stored.normalized()
    if stored_view.get("isValid") is False:
        raise ApiError(410)
    _check_unmodified_since(call, stored_view)
    if not isinstance(call.body, dict):
        validate_change({}, stored_view, is_patching=True)
        raise StorageError("MongoDB refuses an array as $set")
    changes: dict[str, Any] = call.body
    validate_change(changes, stored_view, is_patching=True)
    now = call.now_ms()
    changes["srvModified"] = now
    if authorization.subject_name:
        changes["modifiedBy"] = authorization.subject_name
    normalize_treatment_duration(changes, stored_view)
    call.collection.replace(stored, apply_set(stored.fields, changes))
    return json_response({"status": 200}, 200, {"Last-Modified": to_utc_string(now)})


def apply_set(fields: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """MongoDB ``$set`` on a copy; refusals raise StorageError as the driver would."""
    updated = copy.deepcopy(fields)
    for path, value in changes.items():
        parts = path.split(".")
        if path == "_id" or any(not part or part.startswith("$") for part in parts):
            raise StorageError(f"MongoDB refuses to $set {path!r}")
        target: Any = updated
        for part in parts[:-1]:
            if isinstance(target, dict):
                target = target.setdefault(part, {})
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise StorageError(f"Cannot create field {part!r} in {path!r}")
        last = parts[-1]
        if isinstance(target, dict):
            target[last] = copy.deepcopy(value)
        elif isinstance(target, list) and last.isdigit():
            index = int(last)
            target.extend([None] * (index + 1 - len(target)))
            target[index] = copy.deepcopy(value)
        else:
            raise StorageError(f"Cannot create field {last!r} in {path!r}")
    return updated


async def delete(call: V3Call, identifier: str) -> web.Response:
    authorization = await authenticate_v3(call.state, call.request)
    demand(authorization, _permission(call, "delete"))
    found = call.collection.find_for_one(identifier)
    if not found:
        raise ApiError(404)
    stored = found[0]
    if is_read_only(stored.fields):
        raise ApiError(422, msg.READONLY_MODIFICATION)
    if call.query.get("permanent") == "true":
        call.collection.remove(stored)
    else:
        changes: dict[str, Any] = {"isValid": False, "srvModified": call.now_ms()}
        if authorization.subject_name:
            changes["modifiedBy"] = authorization.subject_name
        call.collection.replace(stored, apply_set(stored.fields, changes))
    return json_response({"status": 200})

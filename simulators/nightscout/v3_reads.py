"""API v3 reads: READ, SEARCH and HISTORY (`lib/api3/generic/{read,search,history}`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout.authentication import authenticate_v3, demand
from nightstream.simulators.nightscout.dates import (
    floor_seconds,
    parse_js_date,
    parse_to_moment,
    to_utc_string,
)
from nightstream.simulators.nightscout.matching import (
    FieldFilter,
    QueryError,
    check_conditions,
    matches,
    matches_all,
    sort_key,
)
from nightstream.simulators.nightscout.normalization import resolve_dates
from nightstream.simulators.nightscout.responses import ApiError, StorageError
from nightstream.simulators.nightscout.search_params import (
    parse_fields,
    parse_limit,
    parse_search,
    project,
)
from nightstream.simulators.nightscout.storage import StoredDocument
from nightstream.simulators.nightscout.v3_context import V3Call


def _search_permission(call: V3Call) -> str:
    assert call.spec is not None
    return f"api:{call.spec.name}:{call.spec.search_operation}"


def _presented(call: V3Call, stored: StoredDocument, fields: tuple[str, ...] | None) -> Any:
    assert call.spec is not None
    document = stored.normalized()
    resolve_dates(call.spec, document)
    return project(document, fields)


async def read(call: V3Call, identifier: str) -> web.StreamResponse:
    authorization = await authenticate_v3(call.state, call.request)
    demand(authorization, f"api:{call.collection_name}:read")
    fields = parse_fields(call.query)
    found = call.collection.find_for_one(identifier)
    if not found:
        raise ApiError(404)
    document = found[0].normalized()
    if document.get("isValid") is False:
        raise ApiError(410)
    assert call.spec is not None
    modified = resolve_dates(call.spec, document)
    headers: dict[str, str] = {}
    if modified is not None:
        headers["Last-Modified"] = to_utc_string(modified)
        header = call.request.headers.get("If-Modified-Since")
        since = parse_js_date(header) if header else None
        if since is not None and floor_seconds(modified) <= floor_seconds(since):
            return web.Response(status=304, headers=headers)
    return call.render(project(document, fields), headers)


async def search(call: V3Call) -> web.Response:
    authorization = await authenticate_v3(call.state, call.request)
    demand(authorization, _search_permission(call))
    params = parse_search(call.query, call.state.settings.api3_max_limit)
    try:
        check_conditions(params.filters)
        selected = [
            stored
            for stored in call.collection
            if not stored.is_soft_deleted and matches_all(stored.fields, params.filters)
        ]
    except QueryError as error:
        raise StorageError(str(error)) from error
    ordered = sorted(
        selected,
        key=lambda stored: sort_key(stored.fields, params.sort_fields),
        reverse=params.descending,
    )
    page = ordered[params.skip :]
    if params.limit:
        page = page[: params.limit]
    return call.render([_presented(call, stored, params.fields) for stored in page])


async def history(call: V3Call, last_modified: str | None) -> web.Response:
    """Path variant: strictly newer than the exact ms. Header variant: at or after the header's
    second. Soft-deleted documents are included; documents never written through v3 (no
    stored ``srvModified``) never appear."""
    authorization = await authenticate_v3(call.state, call.request)
    demand(authorization, _search_permission(call))
    fields = parse_fields(call.query)
    condition = _history_condition(call, last_modified)
    limit = parse_limit(call.query, call.state.settings.api3_max_limit)
    changed = [stored for stored in call.collection if matches(stored.fields, condition)]
    ordered = sorted(changed, key=lambda stored: stored.fields["srvModified"])
    page = ordered[:limit] if limit else ordered
    if not page:
        return call.render([])
    assert call.spec is not None
    presented = []
    newest = 0
    for stored in page:
        document = stored.normalized()
        resolve_dates(call.spec, document)
        newest = max(newest, document["srvModified"])
        presented.append(project(document, fields))
    headers = {"Last-Modified": to_utc_string(newest), "ETag": f'W/"{newest}"'}
    return call.render(presented, headers)


def _history_condition(call: V3Call, last_modified: str | None) -> FieldFilter:
    if last_modified:
        parsed = parse_to_moment(last_modified)
        if parsed is None:
            raise ApiError(400, msg.BAD_LAST_MODIFIED)
        return FieldFilter("srvModified", "gt", parsed.epoch_ms)
    header = call.request.headers.get("Last-Modified")
    if not header:
        raise ApiError(400, msg.BAD_LAST_MODIFIED)
    since = parse_js_date(header)
    # An unparseable header is a NaN date in the real server: it matches nothing.
    return FieldFilter(
        "srvModified", "gte", floor_seconds(since) if since is not None else float("nan")
    )

"""SEARCH/HISTORY query parameters (`generic/search/input.js`, `collection.parseLimit`,
`shared/fieldsProjector.js`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout.dates import parse_to_moment, to_iso_string
from nightstream.simulators.nightscout.matching import FILTER_OPERATORS, FieldFilter, FilterOperator
from nightstream.simulators.nightscout.responses import ApiError

RESERVED_PARAMETERS: Final = ("token", "sort", "sort$desc", "limit", "skip", "fields", "now")
SERVER_APPENDED_SORT: Final = ("identifier", "created_at", "date")
_FILTER_PARAMETER = re.compile(r"(.*)\$([a-zA-Z]+)")
_EPOCH_FIELDS: Final = ("date", "srvModified", "srvCreated")
_STORAGE_DEFAULT_LIMIT: Final = 1000  # `storage/mongoCollection/find.js` toSafeInt fallback

Query = Mapping[str, str]


@dataclass(frozen=True)
class SearchParams:
    filters: tuple[FieldFilter, ...]
    sort_fields: tuple[str, ...]
    descending: bool
    limit: int  # 0 means no limit, as for MongoDB
    skip: int
    fields: tuple[str, ...] | None


def parse_search(query: Query, max_limit: int) -> SearchParams:
    """Checked in the real order: filters, sort, limit, skip; the first problem answers."""
    filters = parse_filters(query)
    sort_fields, descending = parse_sort(query)
    limit = parse_limit(query, max_limit)
    skip = parse_skip(query)
    return SearchParams(filters, sort_fields, descending, limit, skip, parse_fields(query))


def parse_value(field: str, text: str) -> Any:
    value: Any = js.normalize_number(js.parse_float(text)) if js.is_number_in_string(text) else text
    if value == "true":
        value = True
    elif value == "false":
        value = False
    if isinstance(value, str) and value.startswith("'") and value.endswith("'"):
        value = value[1:-1]
    if field in _EPOCH_FIELDS:
        parsed = parse_to_moment(value)
        if parsed is not None:
            value = parsed.epoch_ms
    if field == "created_at":
        parsed = parse_to_moment(value)
        if parsed is not None:
            value = to_iso_string(parsed.epoch_ms)
    return value


def parse_filters(query: Query) -> tuple[FieldFilter, ...]:
    filters: list[FieldFilter] = []
    for parameter, text in query.items():
        if parameter in RESERVED_PARAMETERS:
            continue
        field, operator = parameter, "eq"
        match = _FILTER_PARAMETER.match(parameter)
        if match:
            field, operator = match.group(1), match.group(2)
            if operator not in FILTER_OPERATORS:
                raise ApiError(400, msg.UNSUPPORTED_FILTER_OPERATOR.format(operator))
        filters.append(FieldFilter(field, cast(FilterOperator, operator), parse_value(field, text)))
    return tuple(filters)


def parse_sort(query: Query) -> tuple[tuple[str, ...], bool]:
    ascending_field = query.get("sort", "")
    descending_field = query.get("sort$desc", "")
    if ascending_field and descending_field:
        raise ApiError(400, msg.SORT_AND_SORT_DESC)
    requested = descending_field or ascending_field
    fields = [requested] if requested else []
    fields += [field for field in SERVER_APPENDED_SORT if field not in fields]
    return tuple(fields), bool(descending_field)


def _query_number(text: str) -> float:
    return js.string_to_number(text)


def parse_limit(query: Query, max_limit: int) -> int:
    text = query.get("limit", "")
    if not text:
        return max_limit
    number = _query_number(text)
    if math.isnan(number) or not 0 < number <= max_limit:
        raise ApiError(400, msg.BAD_LIMIT)
    parsed = js.parse_int(text)  # "1e2" passes the check as 100 but limits to 1
    return _STORAGE_DEFAULT_LIMIT if math.isnan(parsed) else int(parsed)


def parse_skip(query: Query) -> int:
    text = query.get("skip", "")
    if not text:
        return 0
    number = _query_number(text)
    if math.isnan(number) or number < 0:
        raise ApiError(400, msg.BAD_SKIP)
    parsed = js.parse_int(text)
    return 0 if math.isnan(parsed) else int(parsed)


def parse_fields(query: Query) -> tuple[str, ...] | None:
    text = query.get("fields", "")
    if not text or text == "_all":
        return None
    return tuple(text.split(","))


def project(document: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Only the listed top-level fields survive (even ``identifier`` must be listed)."""
    if fields is None:
        return document
    return {name: value for name, value in document.items() if name in fields}

"""The slice of MongoDB query semantics the v3 API relies on.

Equality and ordering follow BSON rules (numbers compare across int/float, never with booleans;
ranges only compare values of the same type; sort order null < numbers < strings < objects <
arrays < booleans), dotted paths reach into sub-documents and arrays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nightstream.simulators.nightscout import js_semantics as js

FilterOperator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "re"]
FILTER_OPERATORS: tuple[FilterOperator, ...] = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "nin",
    "re",
)


class QueryError(Exception):
    """A query MongoDB itself would refuse (the server answers 500 Database error)."""


@dataclass(frozen=True)
class FieldFilter:
    field: str
    operator: FilterOperator
    value: Any


def bson_equal(left: Any, right: Any) -> bool:
    if js.is_number(left) and js.is_number(right):
        return bool(left == right)
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return list(left) == list(right) and all(bson_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(bson_equal, left, right))
    return type(left) is type(right) and bool(left == right)


def _type_rank(value: Any) -> int:
    if value is None or value is js.UNDEFINED:
        return 1
    if js.is_number(value):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    return 8  # booleans


def bson_sort_key(value: Any) -> tuple[int, Any]:
    rank = _type_rank(value)
    if rank == 1:
        return (rank, 0)
    if rank in (2, 3, 8):
        return (rank, value)
    return (rank, json.dumps(value, sort_keys=False))


def values_at(document: dict[str, Any], path: str) -> list[Any]:
    """Every value a dotted path reaches; empty when the field is missing."""
    current: list[Any] = [document]
    for part in path.split("."):
        reached: list[Any] = []
        for value in current:
            if isinstance(value, dict):
                if part in value:
                    reached.append(value[part])
            elif isinstance(value, list):
                if part.isdigit() and int(part) < len(value):
                    reached.append(value[int(part)])
                reached.extend(
                    item[part] for item in value if isinstance(item, dict) and part in item
                )
        current = reached
    return current


def _candidates(document: dict[str, Any], path: str) -> list[Any]:
    """Field values plus the elements of array values (MongoDB matches either)."""
    candidates: list[Any] = []
    for value in values_at(document, path):
        candidates.append(value)
        if isinstance(value, list):
            candidates.extend(value)
    return candidates


_RANGE_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda candidate, bound: candidate > bound,
    "gte": lambda candidate, bound: candidate >= bound,
    "lt": lambda candidate, bound: candidate < bound,
    "lte": lambda candidate, bound: candidate <= bound,
}


def _same_bracket(left: Any, right: Any) -> bool:
    rank = _type_rank(left)
    return rank == _type_rank(right) and rank in (2, 3, 8)


def _compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise QueryError(f"invalid regular expression: {error}") from error


def matches(document: dict[str, Any], condition: FieldFilter) -> bool:
    candidates = _candidates(document, condition.field)
    operator, value = condition.operator, condition.value
    if operator == "eq":
        return any(bson_equal(candidate, value) for candidate in candidates)
    if operator == "ne":
        return not any(bson_equal(candidate, value) for candidate in candidates)
    if operator in _RANGE_TESTS:
        test = _RANGE_TESTS[operator]
        return any(_same_bracket(c, value) and test(c, value) for c in candidates)
    if operator in ("in", "nin"):
        options = js.to_string(value).split("|")
        found = any(bson_equal(c, option) for c in candidates for option in options)
        return found if operator == "in" else not found
    pattern = _compile_regex(js.to_string(value))
    return any(isinstance(c, str) and pattern.search(c) is not None for c in candidates)


def check_conditions(conditions: Iterable[FieldFilter]) -> None:
    """Raise QueryError for what MongoDB rejects whether or not any document is scanned."""
    for condition in conditions:
        if condition.operator == "re":
            _compile_regex(js.to_string(condition.value))


def matches_all(document: dict[str, Any], conditions: Iterable[FieldFilter]) -> bool:
    return all(matches(document, condition) for condition in conditions)


def sort_key(document: dict[str, Any], fields: Sequence[str]) -> list[tuple[int, Any]]:
    """Key for sorting documents by several fields in BSON order (missing sorts as null)."""
    key: list[tuple[int, Any]] = []
    for path in fields:
        values = values_at(document, path)
        key.append(bson_sort_key(values[0] if values else None))
    return key

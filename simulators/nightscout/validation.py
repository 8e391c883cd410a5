"""Document validation (`shared/operationTools.js` validateCommon, `generic/*/validate.js`).

Each check raises ``ApiError`` with the real server's status and message.
"""

from __future__ import annotations

from typing import Any, Final

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout.dates import MIN_TIMESTAMP_MS
from nightstream.simulators.nightscout.responses import ApiError

MIN_UTC_OFFSET: Final = -1440
MAX_UTC_OFFSET: Final = 1440

IMMUTABLE_FIELDS: Final = (
    "identifier",
    "date",
    "utcOffset",
    "eventType",
    "device",
    "app",
    "srvCreated",
    "subject",
    "srvModified",
    "modifiedBy",
    "isValid",
)


def is_read_only(document: dict[str, Any]) -> bool:
    return any(document.get(flag) is True for flag in ("isReadOnly", "readOnly", "readonly"))


def validate_common(document: dict[str, Any], *, is_patching: bool = False) -> None:
    """On PATCH a field is only checked when present."""
    date = document.get("date", js.UNDEFINED)
    if (not is_patching or date is not js.UNDEFINED) and (
        not js.is_number(date) or date <= MIN_TIMESTAMP_MS
    ):
        raise ApiError(400, msg.BAD_FIELD_DATE)
    utc_offset = document.get("utcOffset", js.UNDEFINED)
    if (not is_patching or utc_offset is not js.UNDEFINED) and (
        not js.is_number(utc_offset) or not MIN_UTC_OFFSET <= utc_offset <= MAX_UTC_OFFSET
    ):
        raise ApiError(400, msg.BAD_FIELD_UTC)
    app = document.get("app", js.UNDEFINED)
    if (not is_patching or app is not js.UNDEFINED) and (
        not isinstance(app, str) or js.is_null_or_whitespace(app)
    ):
        raise ApiError(400, msg.BAD_FIELD_APP)


def validate_insert(document: dict[str, Any]) -> None:
    identifier = document.get("identifier")
    if not isinstance(identifier, str) or js.is_null_or_whitespace(identifier):
        raise ApiError(400, msg.BAD_FIELD_IDENTIFIER)
    validate_common(document)


def validate_change(
    document: dict[str, Any],
    stored: dict[str, Any],
    *,
    is_patching: bool = False,
    is_deduplication: bool = False,
) -> None:
    """Replace, dedup and patch: read-only lock, immutable fields, then the common checks.

    ``stored`` is the stored document as v3 presents it (identifier falls back to ``_id``). A
    soft-deleted stored document may be changed without the immutable-field restriction.
    """
    if is_read_only(stored):
        raise ApiError(422, msg.READONLY_MODIFICATION)
    if stored.get("isValid") is not False:
        for field in IMMUTABLE_FIELDS:
            if field == "identifier" and is_deduplication:
                continue
            new_value = document.get(field, js.UNDEFINED)
            if new_value is not js.UNDEFINED and not js.strict_equals(
                new_value, stored.get(field, js.UNDEFINED)
            ):
                raise ApiError(400, msg.IMMUTABLE_FIELD.format(field))
    validate_common(document, is_patching=is_patching)

"""Response bodies and messages, word for word from `lib/api3/const.json` and the v1 middleware."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

BAD_LAST_MODIFIED: Final = "Bad or missing Last-Modified header/parameter"
BAD_LIMIT: Final = "Parameter limit out of tolerance"
BAD_REQUEST_BODY: Final = "Bad or missing request body"
BAD_FIELD_IDENTIFIER: Final = "Bad or missing identifier field"
BAD_FIELD_DATE: Final = "Bad or missing date field"
BAD_FIELD_UTC: Final = "Bad or missing utcOffset field"
BAD_FIELD_APP: Final = "Bad or missing app field"
BAD_SKIP: Final = "Parameter skip out of tolerance"
SORT_AND_SORT_DESC: Final = "Parameters sort and sort_desc cannot be combined"
UNSUPPORTED_FILTER_OPERATOR: Final = "Unsupported filter operator {0}"
IMMUTABLE_FIELD: Final = "Field {0} cannot be modified by the client"
BAD_TOKEN: Final = "Bad access token or JWT"  # noqa: S105 - a message, not a secret
MISSING_OR_BAD_TOKEN: Final = "Missing or bad access token or JWT"  # noqa: S105
MISSING_PERMISSION: Final = "Missing permission {0}"
BAD_OPERATION: Final = "Bad operation or collection"
UNSUPPORTED_FORMAT: Final = "Unsupported output format requested"
READONLY_MODIFICATION: Final = "Trying to modify read-only document"
INTERNAL_ERROR: Final = "Internal Server Error"
STORAGE_ERROR: Final = "Database error"


def _without_non_finite(value: Any) -> Any:
    """JSON.stringify writes Infinity and NaN (from e.g. ``1e400`` in a body) as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _without_non_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_non_finite(item) for item in value]
    return value


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # Express' res.json: compact JSON, utf-8.
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(_without_non_finite(body), separators=(",", ":"), ensure_ascii=False)
    return web.Response(
        text=text,
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def status_body(status: int, message: str | None = None) -> dict[str, Any]:
    """v3 `sendJSONStatus`: ``{status, message?}``."""
    body: dict[str, Any] = {"status": status}
    if message:
        body["message"] = message
    return body


class ApiError(Exception):
    """Ends an operation with a JSON status answer."""

    def __init__(
        self, status: int, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {message or ''}".strip())
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def to_response(self) -> web.Response:
        return json_response(status_body(self.status, self.message), self.status, self.headers)


class StorageError(Exception):
    """What the real server catches around every operation and answers 500 Database error."""


def v1_status_response(status: int, message: str, description: Any = None) -> web.Response:
    """v1 `send-json-status.js`: ``{status, message, description}``."""
    body: dict[str, Any] = {"status": status, "message": message}
    if description is not None:
        body["description"] = description
    return json_response(body, status)


def v1_unauthorized() -> web.Response:
    return v1_status_response(401, "Unauthorized", "Invalid/Missing")

"""JSON request bodies read the way Express' ``body-parser.json()`` reads them.

Only ``application/json`` bodies are parsed (anything else leaves ``{}``), the top level must be an
object or array (strict mode), and numbers follow JavaScript (``1.0`` is ``1``, no ``NaN``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web

from nightstream.simulators.nightscout import js_semantics as js

V3_BODY_LIMIT_BYTES: Final = 50 * 1024 * 1024  # `lib/api3/index.js`: 1048576 * 50
V1_BODY_LIMIT_BYTES: Final = 50 * 1024 * 1024  # '50Mb' in `lib/api/*/index.js`
V1_DEVICESTATUS_BODY_LIMIT_BYTES: Final = 1024 * 1024  # wares.jsonParser: '1Mb'
_JSON_WHITESPACE: Final = " \t\n\r"


class BodyParseError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Unexpected token {name}")


def parse_json_text(text: str) -> Any:
    return json.loads(
        text,
        parse_float=lambda literal: js.normalize_number(float(literal)),
        parse_constant=_reject_constant,
    )


async def read_json_body(request: web.Request, limit_bytes: int) -> Any:
    if request.content_type != "application/json" or "Content-Type" not in request.headers:
        return {}
    charset = request.charset
    if charset is not None and not charset.lower().startswith("utf-"):
        raise BodyParseError(415, f'unsupported charset "{charset.upper()}"')
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise BodyParseError(413, "request entity too large") from error
    if len(raw) > limit_bytes:
        raise BodyParseError(413, "request entity too large")
    if not raw:
        return {}
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise BodyParseError(400, "invalid utf-8") from error
    first = text.lstrip(_JSON_WHITESPACE)[:1]
    if first not in ("{", "["):
        raise BodyParseError(400, f"Unexpected token {first!r} in JSON (strict mode)")
    try:
        return parse_json_text(text)
    except (ValueError, RecursionError) as error:
        raise BodyParseError(400, f"Unexpected token in JSON: {error}") from error

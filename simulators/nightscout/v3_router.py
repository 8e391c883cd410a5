"""Entry point for every ``/api/v3`` request: body parsing, URL extensions, routing.

Routing is done here rather than by aiohttp because the real app rewrites the path before
routing (``/entries.json`` is ``/entries`` with ``Accept: application/json``) and answers
unknown collections or operations without authenticating.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from aiohttp import web

from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout import v3_reads, v3_specific, v3_writes
from nightstream.simulators.nightscout.collection_specs import COLLECTIONS
from nightstream.simulators.nightscout.request_body import (
    V3_BODY_LIMIT_BYTES,
    BodyParseError,
    read_json_body,
)
from nightstream.simulators.nightscout.responses import ApiError, StorageError, json_response
from nightstream.simulators.nightscout.state import STATE_KEY
from nightstream.simulators.nightscout.stats import COLLECTION_LABEL
from nightstream.simulators.nightscout.v3_context import API3_BASE_PATH, V3Call

logger = logging.getLogger(__name__)


# Built-in table only: the answer must not depend on the machine's /etc/mime.types.
_MIME_TYPES = mimetypes.MimeTypes()

Operation = Callable[[], Awaitable[web.StreamResponse]]


def extension_to_accept(relative_path: str, accept: str | None) -> tuple[str, str | None]:
    """`renderer.extension2accept`: everything after the first ``.`` is an extension."""
    base, dot, extension = relative_path.partition(".")
    if not dot or not extension:
        return relative_path, accept
    media_type, _encoding = _MIME_TYPES.guess_type("file." + extension, strict=False)
    if media_type is None:
        raise ApiError(406, msg.UNSUPPORTED_FORMAT)
    return base, media_type


def _segments(relative_path: str) -> list[str] | None:
    parts = relative_path.split("/")[1:]
    if parts and parts[-1] == "":
        parts.pop()  # Express' non-strict routing ignores one trailing slash
    if not parts or any(part == "" for part in parts):
        return None
    return [unquote(part) for part in parts]


def _route(call: V3Call, method: str, segments: list[str]) -> Operation | None:
    if method == "HEAD":
        method = "GET"
    name = segments[0]
    if name in COLLECTIONS:
        call.spec = COLLECTIONS[name]
        rest = segments[1:]
        if not rest:
            if method == "GET":
                return lambda: v3_reads.search(call)
            if method == "POST":
                return lambda: v3_writes.create(call)
            return None
        if rest[0] == "history" and method == "GET" and len(rest) <= 2:
            return lambda: v3_reads.history(call, rest[1] if len(rest) == 2 else None)
        if len(rest) == 1:
            identifier = rest[0]
            by_method: dict[str, Operation] = {
                "GET": lambda: v3_reads.read(call, identifier),
                "PUT": lambda: v3_writes.update(call, identifier),
                "PATCH": lambda: v3_writes.patch(call, identifier),
                "DELETE": lambda: v3_writes.delete(call, identifier),
            }
            return by_method.get(method)
        return None
    if method == "GET" and len(segments) == 1:
        specific = {
            "version": v3_specific.version,
            "status": v3_specific.status,
            "lastModified": v3_specific.last_modified,
        }.get(name)
        if specific is not None:
            return lambda: specific(call)
    return None


async def handle_v3(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    first_segment = request.path[len(API3_BASE_PATH) :].split("/")[1:2]
    if first_segment and first_segment[0].split(".")[0] in COLLECTIONS:
        request[COLLECTION_LABEL] = first_segment[0].split(".")[0]
    try:
        body = await read_json_body(request, V3_BODY_LIMIT_BYTES)
    except BodyParseError:
        # The real body-parser error handler answers 500 whatever went wrong (even 413).
        return json_response(msg.status_body(500, msg.INTERNAL_ERROR), 500)
    try:
        relative_path, accept = extension_to_accept(
            request.rel_url.raw_path[len(API3_BASE_PATH) :], request.headers.get("Accept")
        )
        call = V3Call(
            state=state,
            request=request,
            relative_path=relative_path,
            accept=accept,
            body=body,
            query={key: request.query.getone(key) for key in request.query},
        )
        segments = _segments(relative_path)
        operation = _route(call, request.method, segments) if segments else None
        if operation is None:
            raise ApiError(404, msg.BAD_OPERATION)
        return await operation()
    except ApiError as error:
        return error.to_response()
    except StorageError as error:
        logger.info("answering 500 Database error: %s", error)
        return json_response(msg.status_body(500, msg.STORAGE_ERROR), 500)
    except Exception:
        logger.exception("unexpected error in an API v3 operation")
        return json_response(msg.status_body(500, msg.STORAGE_ERROR), 500)

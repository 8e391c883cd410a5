"""One API v3 call as the operations see it, and the output renderer they share."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from nightstream.simulators.nightscout import responses as msg
from nightstream.simulators.nightscout.collection_specs import CollectionSpec
from nightstream.simulators.nightscout.responses import ApiError, json_response
from nightstream.simulators.nightscout.state import ServerState
from nightstream.simulators.nightscout.storage import CollectionStore

API3_BASE_PATH = "/api/v3"
# `shared/renderer.js` res.format: the type the client prefers wins. Only JSON is rendered
# here; a client preferring CSV or XML gets 406 (the real server would render them).
_RENDERABLE_TYPES = ("application/json", "text/csv", "application/xml")


@dataclass
class V3Call:
    state: ServerState
    request: web.Request
    # Path below /api/v3 after any ".ext" was turned into an Accept header, still URL-encoded.
    relative_path: str
    accept: str | None
    body: Any
    query: Mapping[str, str]
    spec: CollectionSpec | None = None

    @property
    def collection(self) -> CollectionStore:
        assert self.spec is not None
        return self.state.store.collection(self.spec.name)

    @property
    def collection_name(self) -> str:
        assert self.spec is not None
        return self.spec.name

    def now_ms(self) -> int:
        return self.state.settings.now_ms()

    def location(self, identifier: str) -> str:
        """Node ``path.posix.join(req.baseUrl, req.path, identifier)``."""
        joined = "/".join(part for part in (API3_BASE_PATH, self.relative_path, identifier) if part)
        return posixpath.normpath(joined)

    def render(self, data: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        if negotiate(self.accept) != "application/json":
            raise ApiError(406, msg.UNSUPPORTED_FORMAT)
        return json_response({"status": 200, "result": data}, 200, headers)


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        parts = [part.strip() for part in item.split(";")]
        if not parts[0]:
            continue
        quality = 1.0
        for parameter in parts[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((parts[0].lower(), quality))
    return ranges


def _range_quality(media_type: str, ranges: list[tuple[str, float]]) -> float:
    main = media_type.partition("/")[0]
    best_specificity, quality = -1, 0.0
    for media_range, range_quality in ranges:
        range_main, _, range_sub = media_range.partition("/")
        if media_range == media_type:
            specificity = 2
        elif range_main == main and range_sub == "*":
            specificity = 1
        elif media_range == "*/*" or (range_main == "*" and range_sub in ("", "*")):
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, quality = specificity, range_quality
    return quality


def negotiate(accept: str | None) -> str | None:
    """The renderable type the Accept header prefers, None when it accepts none of them."""
    if not accept:
        return _RENDERABLE_TYPES[0]
    ranges = _media_ranges(accept)
    scored = [(_range_quality(media_type, ranges), media_type) for media_type in _RENDERABLE_TYPES]
    best_quality = max(quality for quality, _ in scored)
    if best_quality <= 0:
        return None
    return next(media_type for quality, media_type in scored if quality == best_quality)

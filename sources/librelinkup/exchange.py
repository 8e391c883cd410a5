"""One HTTP request to LibreLinkUp. Failures say which call failed, never the URL or headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from nightstream.schemas.backoff import parse_retry_after
from nightstream.schemas.errors import RetriableError
from nightstream.sources.librelinkup.reply import LluReply


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    call: str,
    headers: Mapping[str, str],
    timeouts: httpx.Timeout,
    payload: Mapping[str, Any] | None = None,
) -> LluReply:
    """``call`` names the request in errors ("login", "connections", "graph")."""
    options: dict[str, Any] = {"headers": dict(headers), "timeout": timeouts}
    if payload is not None:
        options["json"] = dict(payload)
    try:
        response = await http.request(method, url, **options)
    except httpx.TransportError as exc:
        failure = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
        raise RetriableError(f"LibreLinkUp {failure} on {call} ({type(exc).__name__})") from None
    answer_headers = response.headers
    kind = answer_headers.get("content-type", "")
    wait = parse_retry_after(answer_headers.get("retry-after"))
    return LluReply(response.status_code, kind, response.content, wait)

"""One HTTP request to LibreLinkUp. Failures say which call failed, never the URL or headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from schemas.backoff import parse_retry_after
from schemas.errors import RetriableError
from sources.librelinkup.reply import LluReply


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
    try:
        response = await http.request(
            method,
            url,
            headers=dict(headers),
            json=None if payload is None else dict(payload),
            timeout=timeouts,
        )
    except httpx.TimeoutException:
        raise RetriableError(f"LibreLinkUp timed out on {call}") from None
    except httpx.TransportError as exc:
        kind = type(exc).__name__
        raise RetriableError(f"LibreLinkUp unreachable on {call} ({kind})") from None
    return LluReply(
        http_status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        body=response.content,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )

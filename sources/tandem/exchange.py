"""One HTTP request to Tandem. Failures name the call, never the URL, headers or cookies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx

from nightstream.schemas.backoff import parse_retry_after
from nightstream.schemas.errors import RetriableError

# Tandem's WAF answers blocked clients with an HTML page (HTTP 403); logins that come too often
# risk a longer ban, so a block is waited out for at least this long.
WAF_PAUSE_S = 15 * 60.0


@dataclass(frozen=True)
class TandemReply:
    status: int
    content_type: str
    body: bytes
    retry_after: float | None
    location: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @cached_property
    def json(self) -> Any:
        """The body as JSON, or None when it is not (HTML from a WAF, empty, truncated)."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    def member(self, name: str) -> Any:
        value = self.json
        return value.get(name) if isinstance(value, dict) else None

    @property
    def is_html(self) -> bool:
        return "html" in self.content_type.lower()


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    call: str,
    headers: Mapping[str, str],
    timeouts: httpx.Timeout,
    params: Mapping[str, str] | None = None,
    json_body: Mapping[str, Any] | None = None,
    form: Mapping[str, str] | None = None,
) -> TandemReply:
    """``call`` names the request in errors ("the login", "the pump logs"). Redirects are not
    followed: the login reads them itself."""
    options: dict[str, Any] = {"headers": dict(headers), "timeout": timeouts}
    if params is not None:
        options["params"] = dict(params)
    if json_body is not None:
        options["json"] = dict(json_body)
    if form is not None:
        options["data"] = dict(form)
    try:
        response = await http.request(method, url, follow_redirects=False, **options)
    except httpx.TransportError as exc:
        failure = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
        raise RetriableError(f"Tandem Source {failure} on {call} ({type(exc).__name__})") from None
    return TandemReply(
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        body=response.content,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        location=response.headers.get("location"),
        cookies=dict(response.cookies.items()),
    )


def raise_for_transport(reply: TandemReply, call: str) -> None:
    """RetriableError for what any call may meet: throttling, WAF blocks, server errors."""
    if reply.status == 429:
        raise RetriableError(
            f"Tandem Source throttled {call} (HTTP 429)", retry_after=reply.retry_after
        )
    if reply.status == 403:
        wait = max(reply.retry_after or 0.0, WAF_PAUSE_S)
        raise RetriableError(
            f"Tandem Source's firewall blocked {call} (HTTP 403); waiting before trying again",
            retry_after=wait,
        )
    if reply.status >= 500:
        raise RetriableError(
            f"Tandem Source answered {call} with HTTP {reply.status}", retry_after=reply.retry_after
        )

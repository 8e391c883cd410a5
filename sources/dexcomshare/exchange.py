"""One POST to a Share endpoint, and what its answer means at the HTTP level.

Transport failures never carry the request out: the read URL holds the session id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from nightstream.schemas.backoff import parse_retry_after
from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.sources.dexcomshare.errors import unknown_path
from nightstream.sources.dexcomshare.faults import DexcomFault, parse_fault


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    content_type: str
    body: bytes
    retry_after: float | None


async def post_share(
    http: httpx.AsyncClient,
    url: str,
    *,
    endpoint: str,
    payload: Mapping[str, Any],
    params: Mapping[str, str],
    timeouts: httpx.Timeout,
    user_agent: str,
) -> HttpAnswer:
    headers = {"Accept": "application/json", "User-Agent": user_agent}
    try:
        response = await http.post(
            url, json=dict(payload), params=dict(params), headers=headers, timeout=timeouts
        )
    except httpx.TimeoutException:
        raise RetriableError(f"Dexcom Share timed out on {endpoint}") from None
    except httpx.TransportError as exc:
        kind = type(exc).__name__
        raise RetriableError(f"Dexcom Share unreachable on {endpoint} ({kind})") from None
    return HttpAnswer(
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        body=response.content,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def fault_of(answer: HttpAnswer, *, link_id: str, endpoint: str) -> DexcomFault | None:
    """The Dexcom fault in ``answer``; None for a success; raises for other HTTP failures."""
    fault = parse_fault(answer.body)
    if fault is not None:
        return fault
    if 200 <= answer.status < 300:
        return None
    if answer.status == 404:
        raise LinkFatalError(link_id, unknown_path(endpoint))
    raise RetriableError(
        f"Dexcom Share answered HTTP {answer.status} to {endpoint}", retry_after=answer.retry_after
    )

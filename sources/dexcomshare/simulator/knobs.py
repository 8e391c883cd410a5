"""Transport trouble the simulator can be told to make: failures, latency, outages.

These act in front of the service, like a load balancer or Cloudflare would: their answers are
not Dexcom faults.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from sources.dexcomshare.simulator.replies import Reply

DownMode = Literal["refuse", "unavailable"]
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

_REASONS = {
    200: "OK",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def html_page(status: int) -> bytes:
    title = f"{status} {_REASONS.get(status, 'Error')}"
    return (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        "<hr><center>cloudflare</center></body></html>"
    ).encode()


def injected_reply(status: int, *, retry_after: float | None, body: bytes | None) -> Reply:
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return Reply(status, html_page(status) if body is None else body, HTML_CONTENT_TYPE, headers)


@dataclass(frozen=True, slots=True)
class Outage:
    until_ms: int
    mode: DownMode


class TransportKnobs:
    def __init__(self) -> None:
        self.latency_s = 0.0
        self.outage: Outage | None = None
        self.requests_total = 0
        self.injected_total = 0
        self._failures: deque[Reply] = deque()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        reply = injected_reply(status, retry_after=retry_after, body=body)
        self._failures.extend([reply] * count)

    def take_failure(self) -> Reply | None:
        if not self._failures:
            return None
        self.injected_total += 1
        return self._failures.popleft()

    def pending_failures(self) -> int:
        return len(self._failures)

    def outage_at(self, now_ms: int) -> Outage | None:
        if self.outage is not None and now_ms >= self.outage.until_ms:
            self.outage = None
        return self.outage

    def reset(self) -> None:
        self.latency_s = 0.0
        self.outage = None
        self._failures.clear()
        self.requests_total = 0
        self.injected_total = 0

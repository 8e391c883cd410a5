"""Transport trouble a simulator can be told to make: failures, latency, outages.

These act in front of the vendor service, like a load balancer or Cloudflare would: their
answers are HTML pages, not the vendor's errors. Admin routes (``/__sim/...``) bypass them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from nightstream.simulators.kit.replies import Reply, html_reply, to_response
from nightstream.sources.simclock import Clock

ADMIN_PREFIX = "/__sim/"
DownMode = Literal["refuse", "unavailable"]
"""Down as a closed port (connections refused or dropped), or as a 503 page."""


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

    def answer_next(self, reply: Reply, count: int = 1) -> None:
        """The next ``count`` vendor requests get ``reply`` instead of the vendor's answer."""
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

    def state(self, now_ms: int) -> dict[str, object]:
        outage = self.outage_at(now_ms)
        return {
            "requests_total": self.requests_total,
            "injected_total": self.injected_total,
            "pending_failures": self.pending_failures(),
            "latency_s": self.latency_s,
            "outage": None
            if outage is None
            else {"until_ms": outage.until_ms, "mode": outage.mode},
        }

    def reset(self) -> None:
        self.latency_s = 0.0
        self.outage = None
        self._failures.clear()
        self.requests_total = 0
        self.injected_total = 0


def transport_middleware(knobs: TransportKnobs, clock: Clock) -> Middleware:
    @web.middleware
    async def in_front(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        knobs.requests_total += 1
        if knobs.latency_s > 0:
            await asyncio.sleep(knobs.latency_s)
        outage = knobs.outage_at(clock.now_ms())
        if outage is not None:
            if outage.mode == "refuse" and request.transport is not None:
                # The listener is closed; a kept-alive connection must drop as well (the
                # answer below goes nowhere).
                request.transport.close()
            return to_response(html_reply(503))
        failure = knobs.take_failure()
        return await handler(request) if failure is None else to_response(failure)

    return in_front

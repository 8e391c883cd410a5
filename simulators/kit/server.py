"""SimulatorServer: a simulated vendor cloud on a real HTTP port, with transport knobs in front.

A vendor simulator subclasses it and gives its routes (the vendor's API and its admin routes);
this class owns the port: start and stop (also as ``async with``), the URL, and outages that
really close the port in "refuse" mode until the (possibly simulated) clock passes their end.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from dataclasses import replace

from aiohttp import web

from nightstream.schemas.lifecycle import StartStop
from nightstream.simulators.kit.knobs import DownMode, Outage, TransportKnobs, transport_middleware
from nightstream.simulators.kit.replies import html_reply
from nightstream.sources.simclock import Clock, SystemClock

_OUTAGE_POLL_S = 0.02
_SHUTDOWN_TIMEOUT_S = 0.25


class SimulatorServer(StartStop):
    def __init__(self, *, clock: Clock | None = None, host: str, port: int) -> None:
        self.clock: Clock = clock or SystemClock()
        self.knobs = TransportKnobs()
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._outage_watch: asyncio.Task[None] | None = None

    @abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The vendor's routes and the admin routes."""

    # lifecycle

    async def start(self) -> None:
        app = web.Application(middlewares=[transport_middleware(self.knobs, self.clock)])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        await self._listen()

    async def stop(self) -> None:
        if self._outage_watch is not None:
            self._outage_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outage_watch
            self._outage_watch = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("the simulator has not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def base_url(self, region: str) -> str:
        return f"{self.url}/{region}"

    def reset(self) -> None:
        """Forget counters and pending knobs; subclasses forget their service's too."""
        self.knobs.reset()

    # transport knobs

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        """The next ``count`` vendor requests get ``status`` with an HTML (or the given) body."""
        reply = html_reply(status)
        if body is not None:
            reply = replace(reply, body=body)
        if retry_after is not None:
            reply = replace(reply, headers={"Retry-After": f"{retry_after:g}"})
        self.knobs.answer_next(reply, count)

    def set_latency(self, seconds: float) -> None:
        """Real seconds added before every vendor answer."""
        self.knobs.latency_s = max(0.0, seconds)

    async def go_down(self, duration_ms: int, *, mode: DownMode = "refuse") -> None:
        """Be down for ``duration_ms`` of simulated time: refuse connections, or answer 503."""
        self.knobs.outage = Outage(self.clock.now_ms() + duration_ms, mode)
        if mode == "refuse":
            await self._unlisten()
            if self._outage_watch is None or self._outage_watch.done():
                self._outage_watch = asyncio.create_task(self._come_back_after_outage())

    async def come_back(self) -> None:
        """End any outage now."""
        self.knobs.outage = None
        if self._site is None and self._runner is not None:
            await self._listen()

    # internals

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self._host, self._port)
        await self._site.start()
        self._port = self._site.port

    async def _unlisten(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def _come_back_after_outage(self) -> None:
        # Polled: a manual or accelerated clock signals nobody when it passes a time.
        while self.knobs.outage_at(self.clock.now_ms()) is not None:  # noqa: ASYNC110
            await asyncio.sleep(_OUTAGE_POLL_S)
        if self._site is None and self._runner is not None:
            await self._listen()

"""ShareSimulator: the simulated Dexcom Share service on a real HTTP port.

Start it with ``async with ShareSimulator(accounts, clock=...) as sim:`` and point a client at
``sim.server("us")``. Every knob is a method here and also an admin route (see ``admin.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from types import TracebackType

from aiohttp import web

from sources.dexcomshare.servers import ShareServer, share_server
from sources.dexcomshare.simulator.accounts import SimAccount
from sources.dexcomshare.simulator.admin import admin_routes
from sources.dexcomshare.simulator.counters import AccountCounters
from sources.dexcomshare.simulator.formats import MalformedKind
from sources.dexcomshare.simulator.glucose import DAY_MS
from sources.dexcomshare.simulator.http_app import build_app
from sources.dexcomshare.simulator.knobs import DownMode, Outage, TransportKnobs
from sources.dexcomshare.simulator.lockout import LockoutPolicy
from sources.dexcomshare.simulator.service import ShareService
from sources.simclock import Clock, SystemClock

_OUTAGE_POLL_S = 0.02


class ShareSimulator:
    def __init__(
        self,
        accounts: Iterable[SimAccount] = (),
        *,
        clock: Clock | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        session_ttl_ms: int = DAY_MS,
        history_ms: int = DAY_MS,
        lockout: LockoutPolicy | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.service = ShareService(
            accounts,
            clock=self.clock,
            seed=seed,
            session_ttl_ms=session_ttl_ms,
            history_ms=history_ms,
            lockout=lockout,
        )
        self.knobs = TransportKnobs()
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._outage_watch: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        app = build_app(self.service, self.knobs, admin_routes(self))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
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

    async def __aenter__(self) -> ShareSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("the simulator has not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def base_url(self, region: str = "us") -> str:
        return f"{self.url}/{region}"

    def server(self, region: str = "us") -> ShareServer:
        """The client-side server settings for ``region`` on this simulator."""
        return share_server(region, self.base_url(region))

    # accounts and what was seen

    @property
    def accounts(self) -> tuple[SimAccount, ...]:
        return self.service.accounts

    def add_account(self, account: SimAccount) -> None:
        self.service.add_account(account)

    def counters_for(self, username: str) -> AccountCounters:
        return self.service.counters(username)

    def reset(self) -> None:
        """Forget counters and pending knobs (accounts and sessions stay)."""
        self.service.reset()
        self.knobs.reset()

    # knobs

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        """The next ``count`` Share requests get ``status`` with a non-Dexcom (HTML) body."""
        self.knobs.fail_next(count, status=status, retry_after=retry_after, body=body)

    def set_latency(self, seconds: float) -> None:
        """Real seconds added before every Share answer."""
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

    def expire_sessions(self, *, forget: bool = False) -> None:
        """End every session (SessionNotValid), or forget them all (SessionIdNotFound)."""
        self.service.end_sessions(forget=forget)

    def reject_next_reads(self, count: int = 1, code: str = "SessionNotValid") -> None:
        """The next ``count`` reads fail with the Dexcom fault ``code``, whatever the session."""
        self.service.reject_next_reads(count, code)

    def inject_malformed_reading(
        self, username: str | None = None, *, kind: MalformedKind = "bad_date", count: int = 1
    ) -> None:
        """The next ``count`` reads (of ``username``, or of anyone) carry one malformed reading."""
        self.service.inject_malformed(username, kind, count)

    def lock_account(self, username: str) -> None:
        """Lock the account as too many failed logins would."""
        self.service.lock(username)

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

"""LluSimulator: the simulated LibreLinkUp service on a real HTTP port.

Start it with ``async with LluSimulator(accounts, clock=...) as sim:`` and point a client at
``sim.hosts()``: every region is served under ``/<region>/``, the global host under
``/global/``. Transport trouble is ``sim.knobs`` (the Dexcom simulator's knobs: failures,
latency, outages); LibreLinkUp's own knobs are methods here. Every knob is also an admin route
(see ``admin.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from sources.dexcomshare.simulator.knobs import DownMode, Outage, TransportKnobs
from sources.librelinkup.hosts import REGION_PLACEHOLDER, LluHosts
from sources.librelinkup.simulator.accounts import LluAccount, StepType
from sources.librelinkup.simulator.admin import admin_routes
from sources.librelinkup.simulator.counters import LluCounters
from sources.librelinkup.simulator.http_app import build_app
from sources.librelinkup.simulator.options import SimOptions
from sources.librelinkup.simulator.service import LluService
from sources.simclock import Clock, SystemClock


class LluSimulator:
    def __init__(
        self,
        accounts: Iterable[LluAccount] = (),
        *,
        clock: Clock | None = None,
        options: SimOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.service = LluService(accounts, clock=self.clock, options=options)
        self.knobs = TransportKnobs()
        self._address = (host, port)
        self._runner: web.AppRunner | None = None

    # lifecycle

    async def start(self) -> None:
        app = build_app(self.service, self.knobs, admin_routes(self))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, *self._address)
        await site.start()
        self._address = (self._address[0], site.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LluSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        host, port = self._address
        if self._runner is None:
            raise RuntimeError("the simulator is not running")
        return f"http://{host}:{port}"

    def base_url(self, region: str) -> str:
        return f"{self.url}/{region}"

    def hosts(self) -> LluHosts:
        """Client-side host settings that reach every region of this simulator."""
        return LluHosts(self.base_url(REGION_PLACEHOLDER))

    # what was seen

    def counters_for(self, email: str) -> LluCounters:
        """What the simulator saw of ``email``'s account (logins, redirects, graph calls...)."""
        return self.service.counters(email)

    def reset(self) -> None:
        """Forget counters, lockouts and pending knobs (accounts and tickets stay)."""
        self.service.reset()
        self.knobs.reset()

    # knobs

    def go_down(self, duration_ms: int, *, mode: DownMode = "refuse") -> None:
        """Be down for ``duration_ms`` of simulated time: drop connections, or answer 503."""
        self.knobs.outage = Outage(self.clock.now_ms() + duration_ms, mode)

    def expire_tickets(self) -> None:
        """Forget every ticket: the next authenticated call answers HTTP 401."""
        self.service.tickets.expire_all()

    def lock_account(self, email: str) -> None:
        """Lock the account as repeated failed logins would."""
        self.service.lock(email)

    def require_step(self, email: str, step: StepType | None) -> None:
        """Stop every login of ``email`` at ``step`` (None: log in normally again)."""
        self.service.set_step(email, step)

    def set_minimum_version(self, version: str) -> None:
        """Refuse clients whose ``version`` header is below ``version`` (status 920)."""
        self.service.minimum_version = version

    def inject_malformed_points(self, count: int = 1) -> None:
        """The next ``count`` graph answers carry one history point no parser should accept."""
        self.service.malformed_graphs += count

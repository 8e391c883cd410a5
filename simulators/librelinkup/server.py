"""LluSimulator: the simulated LibreLinkUp service on a real HTTP port.

Start it with ``async with LluSimulator(accounts, clock=...) as sim:`` and point a client at
``sim.hosts()``: every region is served under ``/<region>/``, the global host under
``/global/``. Transport trouble (failures, latency, outages) comes from ``SimulatorServer``;
LibreLinkUp's own knobs are methods here. Every knob is also an admin route (see ``admin.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from aiohttp import web

from nightstream.simulators.kit.server import SimulatorServer
from nightstream.simulators.librelinkup.accounts import LluAccount, StepType
from nightstream.simulators.librelinkup.admin import llu_admin_routes
from nightstream.simulators.librelinkup.counters import LluCounters
from nightstream.simulators.librelinkup.http_app import llu_routes
from nightstream.simulators.librelinkup.options import SimOptions
from nightstream.simulators.librelinkup.service import LluService
from nightstream.sources.librelinkup.hosts import REGION_PLACEHOLDER, LluHosts
from nightstream.sources.simclock import Clock


class LluSimulator(SimulatorServer):
    def __init__(
        self,
        accounts: Iterable[LluAccount] = (),
        *,
        clock: Clock | None = None,
        options: SimOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(clock=clock, host=host, port=port)
        self.service = LluService(accounts, clock=self.clock, options=options)

    def routes(self) -> list[web.RouteDef]:
        return llu_routes(self.service) + llu_admin_routes(self)

    def hosts(self) -> LluHosts:
        """Client-side host settings that reach every region of this simulator."""
        return LluHosts(self.base_url(REGION_PLACEHOLDER))

    # what was seen

    def counters_for(self, email: str) -> LluCounters:
        """What the simulator saw of ``email``'s account (logins, redirects, graph calls...)."""
        return self.service.counters(email)

    def logins_by_host(self, email: str) -> Counter[str]:
        """How many logins naming ``email`` each host got (region keys, ``global``)."""
        return self.service.logins_by_host(email)

    def reset(self) -> None:
        """Forget counters, lockouts and pending knobs (accounts and tickets stay)."""
        self.service.reset()
        super().reset()

    # LibreLinkUp's knobs

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

"""ShareSimulator: the simulated Dexcom Share service on a real HTTP port.

Start it with ``async with ShareSimulator(accounts, clock=...) as sim:`` and point a client at
``sim.server("us")``. Transport trouble (failures, latency, outages) comes from
``SimulatorServer``; Share's own knobs are methods here. Every knob is also an admin route (see
``admin.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from nightstream.simulators.dexcomshare.accounts import SimAccount
from nightstream.simulators.dexcomshare.admin import share_admin_routes
from nightstream.simulators.dexcomshare.counters import AccountCounters
from nightstream.simulators.dexcomshare.formats import MalformedKind
from nightstream.simulators.dexcomshare.http_app import share_routes
from nightstream.simulators.dexcomshare.service import ShareService
from nightstream.simulators.kit.glucose import DAY_MS, Reading
from nightstream.simulators.kit.lockout import LockoutPolicy
from nightstream.simulators.kit.server import SimulatorServer
from nightstream.sources.dexcomshare.servers import ShareServer, share_server
from nightstream.sources.simclock import Clock


class ShareSimulator(SimulatorServer):
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
        super().__init__(clock=clock, host=host, port=port)
        self.service = ShareService(
            accounts,
            clock=self.clock,
            seed=seed,
            session_ttl_ms=session_ttl_ms,
            history_ms=history_ms,
            lockout=lockout,
        )

    def routes(self) -> list[web.RouteDef]:
        return share_routes(self.service) + share_admin_routes(self)

    def base_url(self, region: str = "us") -> str:
        return super().base_url(region)

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
        super().reset()

    # Share's knobs

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

    def inflate_next_reads(self, username: str, size_bytes: int, count: int = 1) -> None:
        """The next ``count`` reads of ``username`` answer at least ``size_bytes`` of JSON."""
        self.service.inflate_next_reads(username, size_bytes, count)

    def revise_reading(self, username: str, time_ms: int, mgdl: int) -> Reading:
        """Answers from now on carry ``mgdl`` for the reading at ``time_ms``."""
        return self.service.revise_reading(username, time_ms, mgdl)

    def lock_account(self, username: str) -> None:
        """Lock the account as too many failed logins would."""
        self.service.lock(username)

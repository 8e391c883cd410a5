"""TandemSimulator: the simulated Tandem Source on a real HTTP port.

Every region is served below ``/<region>/``: ``sso/`` (the SSO page and the redirect URI),
``tdc/accounts/api/...`` (login API, OIDC authorize and token) and ``source/api/reports/bff/...``
(data). Point a client at ``sim.hosts(region)``. Transport trouble comes from
``SimulatorServer``; Tandem's own knobs are methods here and admin routes (``admin.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from nightstream.simulators.kit.replies import to_response
from nightstream.simulators.kit.server import SimulatorServer
from nightstream.simulators.tandem.accounts import TandemAccount
from nightstream.simulators.tandem.admin import tandem_admin_routes
from nightstream.simulators.tandem.options import SimOptions
from nightstream.simulators.tandem.service import TandemService
from nightstream.sources.simclock import Clock
from nightstream.sources.tandem.protocol import (
    AUTHORIZE_PATH,
    LOGIN_PATH,
    PUMP_LOGS_PATH,
    PUMPER_PATH,
    TOKEN_PATH,
    TandemHosts,
    tandem_hosts,
)

_REGION = "{region:us|eu}"


class TandemSimulator(SimulatorServer):
    def __init__(
        self,
        accounts: Iterable[TandemAccount] = (),
        *,
        clock: Clock | None = None,
        options: SimOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(clock=clock, host=host, port=port)
        self.service = TandemService(accounts, clock=self.clock, hosts=self.hosts, options=options)

    def hosts(self, region: str) -> TandemHosts:
        return tandem_hosts(region, self.url)

    def routes(self) -> list[web.RouteDef]:
        service = self.service

        async def sso(request: web.Request) -> web.Response:
            return to_response(service.sso_page())

        async def login(request: web.Request) -> web.Response:
            body = await request.read()
            return to_response(service.login(request.match_info["region"], request.headers, body))

        async def authorize(request: web.Request) -> web.Response:
            query = dict(request.query)
            return to_response(
                service.authorize(request.match_info["region"], query, request.headers)
            )

        async def callback(request: web.Request) -> web.Response:
            return to_response(
                service.authorize_callback(request.match_info["region"], dict(request.query))
            )

        async def token(request: web.Request) -> web.Response:
            return to_response(service.token(request.match_info["region"], await request.read()))

        async def pumper(request: web.Request) -> web.Response:
            region, pumper_id = request.match_info["region"], request.match_info["pumper"]
            return to_response(service.pumper(region, pumper_id, request.headers))

        async def pump_logs(request: web.Request) -> web.Response:
            region, assignment = request.match_info["region"], request.match_info["assignment"]
            return to_response(
                service.pump_logs(region, assignment, dict(request.query), request.headers)
            )

        accounts = f"/{_REGION}/tdc/"
        source = f"/{_REGION}/source/"
        return [
            web.get(f"/{_REGION}/sso/", sso),
            web.post(f"{accounts}{LOGIN_PATH}", login),
            web.get(f"{accounts}{AUTHORIZE_PATH}", authorize),
            web.get(f"{accounts}{AUTHORIZE_PATH}/callback", callback),
            web.post(f"{accounts}{TOKEN_PATH}", token),
            web.get(f"{source}{PUMPER_PATH}{{pumper}}", pumper),
            web.get(f"{source}{PUMP_LOGS_PATH}{{assignment}}", pump_logs),
            *tandem_admin_routes(self),
        ]

    def counters_for(self, email: str) -> Counter[str]:
        return Counter(self.service.counters(email))

    def reset(self) -> None:
        self.service.reset()
        super().reset()

    # Tandem's knobs

    def expire_tokens(self) -> None:
        """Forget every access token: the next data call answers 401."""
        self.service.expire_tokens()

    def ban(self, email: str) -> None:
        """Block the account's calls at the firewall, as too many logins would."""
        self.service.ban(email)

    def set_account(self, email: str, **changes: Any) -> None:
        """Change an account (``mfa=True``, ``consent=True``, ``password=...``, ``pumps=...``)."""
        self.service.set_account(email, **changes)

    def inject_malformed_events(self, count: int = 1, assignment_id: str | None = None) -> None:
        """The next ``count`` pump-log answers (of that pump only, when one is named) carry one
        event no parser should accept."""
        self.service.malformed_answers += count
        self.service.malformed_pump = assignment_id

"""``NightscoutTestServer``: start, stop and drive the test server from Python."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from nightstream.schemas.lifecycle import StartStop
from nightstream.simulators.nightscout.app import build_application
from nightstream.simulators.nightscout.settings import DEFAULT_JWT_LIFETIME_SECONDS
from nightstream.simulators.nightscout.site_control import SiteControl, site_settings

_SHUTDOWN_TIMEOUT_SECONDS = 1.0


class NightscoutTestServer(SiteControl, StartStop):
    """An in-memory Nightscout 15.0.7 (API v3, a minimal v1, v2 authorization) on a real port.

    ``insecure_use_http`` defaults to True here (plain HTTP allowed), unlike the real default.
    """

    def __init__(
        self,
        api_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth_default_roles: str = "readable",
        auth_fail_delay_seconds: float = 0.05,
        jwt_lifetime_seconds: int = DEFAULT_JWT_LIFETIME_SECONDS,
        insecure_use_http: bool = True,
        api3_security_enabled: bool = True,
        api3_dedup_fallback_enabled: bool = True,
        api3_created_at_fallback_enabled: bool = True,
        api3_max_limit: int = 1000,
        uuid_handling: bool = True,
        jwt_key: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            site_settings(
                api_secret,
                auth_default_roles=auth_default_roles,
                auth_fail_delay_seconds=auth_fail_delay_seconds,
                jwt_lifetime_seconds=jwt_lifetime_seconds,
                insecure_use_http=insecure_use_http,
                api3_security_enabled=api3_security_enabled,
                api3_dedup_fallback_enabled=api3_dedup_fallback_enabled,
                api3_created_at_fallback_enabled=api3_created_at_fallback_enabled,
                api3_max_limit=api3_max_limit,
                uuid_handling=uuid_handling,
                jwt_key=jwt_key,
                clock=clock,
            )
        )
        self._host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        self._state.stopping = False
        runner = web.AppRunner(
            build_application(self._state),
            shutdown_timeout=_SHUTDOWN_TIMEOUT_SECONDS,
            access_log=None,
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port)
        await site.start()
        self._runner = runner
        self._port = bound_port(runner)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._state.stopping = True
        runner, self._runner = self._runner, None
        await runner.cleanup()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running; await start() first")
        return self._port

    @property
    def url(self) -> str:
        """``http://<host>:<port>``, without a trailing slash."""
        return http_url(self._host, self.port)


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the server did not bind a TCP port")

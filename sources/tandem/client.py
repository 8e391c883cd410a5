"""Async Tandem Source client: one login kept while its token lives, pumper and pump-log reads.

Tokens are cached in memory and replaced by a new login shortly before they expire, or once
when Tandem ends them early (HTTP 401): at most one login per call, never a loop, and never two
logins closer than ``MIN_LOGIN_SPACING_MS`` (Tandem's firewall bans clients that log in too
often). A refused login stops the client for good; ``check_login`` is the one explicit way to
try the credentials again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.sources.secret import Secret
from nightstream.sources.simclock import Clock, SystemClock
from nightstream.sources.tandem import errors
from nightstream.sources.tandem.answers import LoginVerdict, PumpLogsAnswer
from nightstream.sources.tandem.exchange import TandemReply, raise_for_transport, send
from nightstream.sources.tandem.login import LoginRequest, log_in
from nightstream.sources.tandem.protocol import (
    EVENT_IDS,
    PUMP_LOGS_PATH,
    PUMPER_PATH,
    WINDOW_DAYS,
    TandemHosts,
)
from nightstream.sources.tandem.pumps import Pump, read_pumps
from nightstream.sources.tandem.tokens import Tokens

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) nightstream-tandem/0.1"
MIN_LOGIN_SPACING_MS = 60_000


def make_http_client(
    timeout: httpx.Timeout = DEFAULT_TIMEOUT, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one place a Tandem client's HTTP client is built (``transport``: a poller's shared
    pools).

    Its cookie jar accepts nothing: the login carries its own cookies (``LoginRequest``), so a
    client shared by many links never sends one link's Tandem session along with another's
    requests. A shared pool for Tandem hosts must keep that property.
    """
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(timeout=timeout, cookies=no_cookies, transport=transport)


class TandemSourceClient:
    """One Tandem Source account. ``http`` may be injected (the caller then closes it)."""

    def __init__(
        self,
        *,
        link_id: str,
        email: Secret | str,
        password: Secret | str,
        hosts: TandemHosts,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str = DEFAULT_USER_AGENT,
        clock: Clock | None = None,
    ) -> None:
        self.link_id = link_id
        self.hosts = hosts
        self._email = email if isinstance(email, Secret) else Secret(email)
        self._password = password if isinstance(password, Secret) else Secret(password)
        self._owns_http = http is None
        self._http = http if http is not None else make_http_client(timeout)
        self._timeout = timeout
        self._user_agent = user_agent
        self._clock = clock or SystemClock()
        self._tokens: Tokens | None = None
        self._stopped: LinkFatalError | None = None
        self._login_not_before_ms = 0
        self._lock = asyncio.Lock()
        self.logins = 0

    def __repr__(self) -> str:
        return f"TandemSourceClient(link_id={self.link_id!r}, region={self.hosts.region!r})"

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def pumps(self) -> list[Pump]:
        """The account's pumps (``bff/pumper/<pumperId>``)."""
        async with self._lock:
            reply = await self._authorized("the pumper", self._pumper_url, None)
        return read_pumps(reply.json)

    async def pump_logs(self, pump: Pump, start: date, end: date) -> PumpLogsAnswer:
        """Every event of ``pump`` from ``start`` to ``end`` (pump-local days, both included,
        at most ``WINDOW_DAYS``), body as received."""
        days = (end - start).days + 1
        if not 1 <= days <= WINDOW_DAYS:
            raise ValueError(f"a pump-log window is 1..{WINDOW_DAYS} days, not {days}")
        async with self._lock:
            pumper = await self._pumper_id()
            params = {
                "pumperId": pumper,
                "startDate": f"{start.isoformat()}T00:00:00Z",
                "endDate": f"{end.isoformat()}T23:59:59Z",
                "eventIds": EVENT_IDS,
            }
            url = f"{self.hosts.source}{PUMP_LOGS_PATH}{pump.assignment_id}"
            reply = await self._authorized("the pump logs", url, params)
        return PumpLogsAnswer(
            reply.status, reply.content_type, reply.body, start.isoformat(), end.isoformat()
        )

    async def check_login(self) -> LoginVerdict:
        """Log in exactly once (clearing a stop) and list the pumps, in plain words."""
        async with self._lock:
            self._tokens, self._stopped, self._login_not_before_ms = None, None, 0
            try:
                await self._ensure_tokens()
            except LinkFatalError as refused:
                return LoginVerdict(outcome="refused", message=refused.user_message)
            except RetriableError as failed:
                message = f"no verdict, Tandem Source could not be asked: {failed}"
                return LoginVerdict(outcome="unreachable", message=message)
            try:
                reply = await self._authorized("the pumper", self._pumper_url, None)
                pumps = tuple(read_pumps(reply.json))
            except LinkFatalError as refused:
                return LoginVerdict(
                    outcome="refused", message=f"login ok, but {refused.user_message}"
                )
            except RetriableError as failed:
                message = f"login ok, but listing the pumps failed: {failed}"
                return LoginVerdict(outcome="unreachable", message=message)
        region = self.hosts.region
        if not any(pump.uploaded for pump in pumps):
            message = f"login ok (region {region}), but {errors.no_pump(self.link_id)}"
            return LoginVerdict(outcome="no_data", message=message, pumps=pumps)
        listed = "; ".join(pump.describe() for pump in pumps)
        message = f"login ok (region {region}); {len(pumps)} pump(s): {listed}"
        return LoginVerdict(outcome="ok", message=message, pumps=pumps)

    # internals (callers hold the lock)

    def _pumper_url(self) -> str:
        assert self._tokens is not None
        return f"{self.hosts.source}{PUMPER_PATH}{self._tokens.pumper_id.reveal()}"

    async def _pumper_id(self) -> str:
        await self._ensure_tokens()
        assert self._tokens is not None
        return self._tokens.pumper_id.reveal()

    async def _authorized(
        self, call: str, url: str | Callable[[], str], params: dict[str, str] | None
    ) -> TandemReply:
        if self._stopped is not None:
            raise LinkFatalError(self.link_id, self._stopped.user_message)
        fresh_login = await self._ensure_tokens()
        reply = await self._get(call, url, params)
        if reply.status == 401:
            self._tokens = None
            if fresh_login:
                raise RetriableError(f"Tandem Source refused a token it had just issued ({call})")
            logger.info("link %s: Tandem ended the session; logging in again", self.link_id)
            await self._ensure_tokens()
            reply = await self._get(call, url, params)
            if reply.status == 401:
                self._tokens = None
                raise RetriableError(f"Tandem Source refused a fresh token ({call})")
        if reply.status == 404:
            raise LinkFatalError(self.link_id, errors.api_gone(call))
        raise_for_transport(reply, call)
        if reply.status != 200:
            raise RetriableError(f"Tandem Source answered {call} with HTTP {reply.status}")
        return reply

    async def _get(
        self, call: str, url: str | Callable[[], str], params: dict[str, str] | None
    ) -> TandemReply:
        assert self._tokens is not None
        target = url if isinstance(url, str) else url()
        headers = {
            **self._headers(),
            "Authorization": f"Bearer {self._tokens.access_token.reveal()}",
            "Origin": self.hosts.origin,
            "Referer": self.hosts.source,
        }
        return await send(
            self._http,
            "GET",
            target,
            call=call,
            headers=headers,
            timeouts=self._timeout,
            params=params,
        )

    async def _ensure_tokens(self) -> bool:
        """Log in unless the cached token is still good; True when a login happened."""
        now_ms = self._clock.now_ms()
        if self._tokens is not None and self._tokens.usable(now_ms):
            return False
        self._tokens = None
        if now_ms < self._login_not_before_ms:
            wait = (self._login_not_before_ms - now_ms) / 1000
            raise RetriableError("waiting before the next Tandem login", retry_after=wait)
        self._login_not_before_ms = now_ms + MIN_LOGIN_SPACING_MS
        request = LoginRequest(
            self.link_id, self.hosts, self._email, self._password, self._headers(), self._timeout
        )
        self.logins += 1
        try:
            self._tokens = await log_in(self._http, request, now_ms)
        except LinkFatalError as refused:
            self._stopped = refused
            raise
        except RetriableError as failed:
            if failed.retry_after is not None:
                until = now_ms + int(failed.retry_after * 1000)
                self._login_not_before_ms = max(self._login_not_before_ms, until)
            raise
        logger.info("link %s: logged in to Tandem Source (%s)", self.link_id, self.hosts.region)
        return True

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": self._user_agent}

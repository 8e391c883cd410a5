"""Async LibreLinkUp client: login with region redirects, one reused ticket, raw graph reads.

The ticket is reused until it is about to expire, and replaced once when LibreLinkUp ends it
(HTTP 401): at most one login per call, never a loop. A refused login stops the client for good
(its user must act); ``check_login`` is the one explicit way to try the credentials again. A
lockout closes the login gate until it is over, whoever calls.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import httpx

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.schemas.identity import stream_digest
from nightstream.sources.librelinkup import errors, protocol
from nightstream.sources.librelinkup.answers import GraphAnswer, LoginVerdict
from nightstream.sources.librelinkup.authorized import SessionEnded, check_authorized
from nightstream.sources.librelinkup.exchange import send
from nightstream.sources.librelinkup.hosts import GLOBAL, LluHosts, region_key, start_region
from nightstream.sources.librelinkup.login import Redirect, read_login
from nightstream.sources.librelinkup.login_gate import LoginGate
from nightstream.sources.librelinkup.patients import Patient, follows_nobody, read_patients
from nightstream.sources.librelinkup.redaction import without_tokens
from nightstream.sources.librelinkup.reply import LluReply, field
from nightstream.sources.librelinkup.session import Session
from nightstream.sources.secret import Secret
from nightstream.sources.simclock import Clock, SystemClock

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_USER_AGENT = "nightstream-librelinkup/0.1"
MAX_REDIRECTS = 2


def _as_secret(value: Secret | str) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


class LibreLinkUpClient:
    """One LibreLinkUp (follower) account.

    ``region`` is ``"auto"`` (start at the global host and follow its redirect) or a region
    key. ``http`` may be injected (the caller then closes it); otherwise the client owns one
    and closes it in :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        link_id: str,
        email: Secret | str,
        password: Secret | str,
        region: str | None = "auto",
        hosts: LluHosts | None = None,
        product: str = protocol.DEFAULT_PRODUCT,
        version: str = protocol.DEFAULT_VERSION,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str = DEFAULT_USER_AGENT,
        clock: Clock | None = None,
    ) -> None:
        self.link_id = link_id
        self._email = _as_secret(email)
        self._password = _as_secret(password)
        self._target = start_region(region)
        self._auto = self._target == GLOBAL
        self._hosts = hosts or LluHosts()
        self._product = product
        self._version = version
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout
        self._user_agent = user_agent
        self._clock = clock or SystemClock()
        self._session: Session | None = None
        self._known_region: str | None = None
        self._stopped: LinkFatalError | None = None
        self._gate = LoginGate()
        self._lock = asyncio.Lock()

    @property
    def has_session(self) -> bool:
        """A session is held: the next call needs no login first."""
        return self._session is not None

    @property
    def region(self) -> str | None:
        """The region whose host issued the current ticket (learned from redirects); None
        before the first login. Not secret: pollers keep it in the cursor state."""
        return self._known_region

    @property
    def login_not_before_ms(self) -> int:
        """Epoch ms before which no login will be tried (0 when there is no lockout)."""
        return self._gate.closed_until_ms

    def adopt_region(self, region: str) -> None:
        """Start at ``region`` (remembered from an earlier run) instead of the global host.

        Only for ``auto`` clients that have not logged in yet: a configured region wins, and a
        redirect still moves the client if the account has moved.
        """
        if not self._auto or self._session is not None:
            return
        try:
            self._target = region_key(region)
        except ValueError:
            logger.warning("link %s: ignoring a remembered region that is malformed", self.link_id)

    def __repr__(self) -> str:
        return f"LibreLinkUpClient(link_id={self.link_id!r}, region={self._target!r})"

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def patients(self) -> list[Patient]:
        """Everyone this account follows (``GET /llu/connections``)."""
        async with self._lock:
            reply = await self._authorized("connections", protocol.CONNECTIONS_PATH)
        return read_patients(reply.data())

    async def graph(self, patient_id: str) -> GraphAnswer:
        """The graph of ``patient_id`` (history, current reading, sensors), body as received
        but for the bearer ticket's token.

        Raises LinkFatalError when the user must act, RetriableError when a later try may work.
        """
        async with self._lock:
            reply = await self._authorized("graph", protocol.graph_path(patient_id))
            region = self._known_region or self._target
            body = without_tokens(reply.body, self._tokens_seen(reply))
        return GraphAnswer(
            stream_digest(patient_id.strip().lower()), region, replace(reply, body=body)
        )

    async def check_login(self) -> LoginVerdict:
        """Log in exactly once (unless locked out) and list the patients, in plain words."""
        async with self._lock:
            failed_login = await self._fresh_login()
            if failed_login is not None:
                return failed_login
            region = self._known_region
            try:
                reply = await self._get("connections", protocol.CONNECTIONS_PATH)
                self._check(reply, "connections")
            except LinkFatalError as refused:
                message = f"login ok, but {refused.user_message}"
                return LoginVerdict(outcome="refused", message=message, region=region)
            except (RetriableError, SessionEnded) as failed:
                message = f"login ok, but listing the patients failed: {failed}"
                return LoginVerdict(outcome="unreachable", message=message, region=region)
        patients = tuple(read_patients(reply.data()))
        if not patients:
            message = f"login ok, but {follows_nobody(self.link_id)}"
            return LoginVerdict(outcome="no_data", message=message, region=region)
        listed = ", ".join(patient.describe() for patient in patients)
        message = f"login ok (region {region}); follows {len(patients)}: {listed}"
        return LoginVerdict(outcome="ok", message=message, region=region, patients=patients)

    # internals (callers hold the lock)

    async def _fresh_login(self) -> LoginVerdict | None:
        """Forget the ticket and log in once (which clears a stop); the verdict if that fails."""
        self._session = None
        try:
            await self._login()
        except LinkFatalError as refused:
            return LoginVerdict(outcome="refused", message=refused.user_message)
        except RetriableError as failed:
            message = f"no verdict, LibreLinkUp could not be asked: {failed}"
            return LoginVerdict(outcome="unreachable", message=message)
        self._stopped = None
        return None

    async def _authorized(self, call: str, path: str) -> LluReply:
        if self._stopped is not None:
            raise LinkFatalError(self.link_id, self._stopped.user_message)
        fresh_login = await self._ensure_session()
        reply = await self._get(call, path)
        try:
            self._check(reply, call)
        except SessionEnded as ended:
            self._session = None
            if fresh_login:
                raise _ticket_refused_after_login(ended) from None
            logger.info("link %s: %s; logging in again", self.link_id, ended)
            await self._ensure_session()
            reply = await self._get(call, path)
            try:
                self._check(reply, call)
            except SessionEnded as ended_again:
                self._session = None
                raise _ticket_refused_after_login(ended_again) from None
        assert self._session is not None
        self._session = self._session.renewed(field(reply.envelope, "ticket"), self._now())
        return reply

    def _tokens_seen(self, reply: LluReply) -> list[str]:
        """Every token ``reply`` may carry: the ticket it returns and the session's own."""
        carried = field(reply.envelope, "ticket", "token")
        tokens = [carried] if isinstance(carried, str) else []
        if self._session is not None:
            tokens.append(self._session.token.reveal())
        return tokens

    def _check(self, reply: LluReply, call: str) -> None:
        check_authorized(reply, link_id=self.link_id, call=call, version=self._version)

    async def _ensure_session(self) -> bool:
        """Log in unless the ticket is still good; True when a login happened."""
        if self._session is not None and not self._session.expired(self._now()):
            return False
        self._session = None
        await self._login()
        return True

    async def _login(self) -> None:
        tried: list[str] = []
        while True:
            self._gate.check(self._now())
            region = self._target
            tried.append(region)
            outcome = await self._login_at(region)
            if isinstance(outcome, Session):
                self._session, self._known_region = outcome, outcome.region
                logger.info("link %s: logged in to LibreLinkUp (region %s)", self.link_id, region)
                return
            self._follow(outcome, tried)

    async def _login_at(self, region: str) -> Session | Redirect:
        reply = await send(
            self._http,
            "POST",
            self._hosts.base_url(region) + protocol.LOGIN_PATH,
            call="the login",
            headers=self._headers(None),
            timeouts=self._timeout,
            payload={"email": self._email.reveal(), "password": self._password.reveal()},
        )
        now_ms = self._now()
        try:
            return read_login(
                reply, region=region, link_id=self.link_id, version=self._version, now_ms=now_ms
            )
        except LinkFatalError as refused:
            self._stopped = refused
            raise
        except RetriableError as failed:
            if failed.retry_after is not None:
                self._gate.close_for(failed.retry_after, now_ms)
            raise

    def _follow(self, redirect: Redirect, tried: list[str]) -> None:
        """Move to the region a redirect names, or stop when it cannot or should not."""
        fixed = None if self._hosts.follows_redirects else self._hosts.base_url(redirect.region)
        if fixed is not None:
            self._stopped = LinkFatalError(
                self.link_id, errors.redirect_not_followed(redirect.region, fixed)
            )
            raise self._stopped
        if redirect.region in tried or len(tried) > MAX_REDIRECTS:
            self._stopped = LinkFatalError(
                self.link_id, errors.redirect_loop([*tried, redirect.region])
            )
            raise self._stopped
        if self._auto:
            logger.info("link %s: the account lives in region %s", self.link_id, redirect.region)
        else:
            logger.warning(
                "link %s: LibreLinkUp redirects this account to region %s; set region = %r "
                "for this link to save a login on every start",
                self.link_id,
                redirect.region,
                redirect.region,
            )
        self._target = redirect.region

    async def _get(self, call: str, path: str) -> LluReply:
        assert self._session is not None
        return await send(
            self._http,
            "GET",
            self._hosts.base_url(self._session.region) + path,
            call=call,
            headers=self._headers(self._session),
            timeouts=self._timeout,
        )

    def _headers(self, session: Session | None) -> dict[str, str]:
        headers = {
            protocol.PRODUCT_HEADER: self._product,
            protocol.VERSION_HEADER: self._version,
            "Accept": "application/json",
            "Cache-Control": "no-cache",
            "User-Agent": self._user_agent,
        }
        if session is not None:
            headers["Authorization"] = f"Bearer {session.token.reveal()}"
            headers[protocol.ACCOUNT_ID_HEADER] = session.account_id.reveal()
        return headers

    def _now(self) -> int:
        return self._clock.now_ms()


def _ticket_refused_after_login(ended: SessionEnded) -> RetriableError:
    return RetriableError(f"LibreLinkUp refused a ticket it had just issued ({ended})")

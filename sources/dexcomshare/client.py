"""Async Dexcom Share client: two-step login, one reused session, raw glucose reads.

A session is replaced only when Dexcom says it is gone (SessionIdNotFound / SessionNotValid),
and then the read is tried once more: at most one login per call, never a loop. A refused login
stops the client for good (the link must be fixed by its user); ``check_login`` is the one
explicit way to try the credentials again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

from nightstream.schemas.errors import LinkFatalError, NightstreamError, RetriableError
from nightstream.schemas.identity import stream_digest
from nightstream.schemas.lifecycle import Closing
from nightstream.sources.dexcomshare import errors
from nightstream.sources.dexcomshare.answers import LoginCheck, ShareAnswer
from nightstream.sources.dexcomshare.errors import SessionRejected
from nightstream.sources.dexcomshare.exchange import HttpAnswer, fault_of, post_share
from nightstream.sources.dexcomshare.faults import ZERO_UUID
from nightstream.sources.dexcomshare.log_redaction import redact_session_ids_in_httpx_logs
from nightstream.sources.dexcomshare.servers import (
    AUTHENTICATE,
    LOGIN_BY_ID,
    MAX_COUNT,
    MAX_MINUTES,
    READ_GLUCOSE,
    ShareServer,
)
from nightstream.sources.dexcomshare.wire import is_uuid
from nightstream.sources.secret import Secret

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
DEFAULT_USER_AGENT = "nightstream-dexcomshare/0.1"


def capped_window(minutes: int, max_count: int) -> tuple[int, int]:
    """``minutes`` and ``max_count`` clamped to what Share serves: 1..1440 and 1..288."""
    return min(max(minutes, 1), MAX_MINUTES), min(max(max_count, 1), MAX_COUNT)


def _as_secret(value: Secret | str) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


class DexcomShareClient(Closing):
    """One Dexcom Share publisher account.

    ``http`` may be injected (the caller then closes it); otherwise the client owns one and
    closes it in :meth:`aclose` / ``async with``. Every request carries ``timeout``.
    """

    def __init__(
        self,
        *,
        link_id: str,
        server: ShareServer,
        username: Secret | str,
        password: Secret | str,
        account_id: Secret | str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self._link_id = link_id
        self._server = server
        self._username = _as_secret(username)
        self._password = _as_secret(password)
        self._account_id = None if account_id is None else _as_secret(account_id)
        self._session: Secret | None = None
        self._stopped: LinkFatalError | None = None
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout
        self._user_agent = user_agent
        self._lock = asyncio.Lock()
        redact_session_ids_in_httpx_logs()

    def __repr__(self) -> str:
        return f"DexcomShareClient(link_id={self._link_id!r}, region={self._server.region!r})"

    @property
    def has_session(self) -> bool:
        """A session is held: the next read needs no login first."""
        return self._session is not None

    @property
    def link_id(self) -> str:
        return self._link_id

    @property
    def server(self) -> ShareServer:
        return self._server

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def read_glucose(
        self, minutes: int = MAX_MINUTES, max_count: int = MAX_COUNT
    ) -> ShareAnswer:
        """The newest readings of the last ``minutes`` (at most ``max_count``), body untouched.

        Raises LinkFatalError when the user must act, RetriableError when a later try may work.
        """
        minutes, max_count = capped_window(minutes, max_count)
        async with self._lock:
            if self._stopped is not None:
                raise LinkFatalError(self._link_id, self._stopped.user_message)
            fresh_login = self._session is None
            if fresh_login:
                await self._login()
            try:
                return await self._read(minutes, max_count)
            except SessionRejected as rejected:
                self._session = None
                if fresh_login:
                    raise _session_refused_after_login(rejected) from None
                logger.info(
                    "link %s: Dexcom session ended (%s); logging in again", self._link_id, rejected
                )
            await self._login()
            try:
                return await self._read(minutes, max_count)
            except SessionRejected as rejected:
                self._session = None
                raise _session_refused_after_login(rejected) from None

    async def check_login(self) -> LoginCheck:
        """Try the credentials exactly once and say, in plain words, whether Share works."""
        async with self._lock:
            self._session = None
            try:
                await self._login()
            except LinkFatalError as refused:
                return LoginCheck("refused", refused.user_message)
            except RetriableError as failed:
                return LoginCheck("unreachable", f"no verdict, Dexcom could not be asked: {failed}")
            self._stopped = None
            digest = self._account_digest()
            try:
                answer = await self._read(MAX_MINUTES, 1)
            except SessionRejected:
                self._session = None
                message = "login ok, but Dexcom rejected the new session at once: try again later"
                return LoginCheck("unreachable", message, digest)
            except LinkFatalError as refused:
                return LoginCheck("refused", f"login ok, but {refused.user_message}", digest)
            except RetriableError as failed:
                return LoginCheck("unreachable", f"login ok, but the read failed: {failed}", digest)
            if answer.reading_count == 0:
                return LoginCheck(
                    "no_data",
                    "login ok, but Share returned no reading for the last 24 h: check that Share "
                    "is on in the Dexcom app with at least one follower, and that a sensor runs",
                    digest,
                )
            return LoginCheck("ok", "login ok, Share returns readings", digest)

    async def _login(self) -> None:
        """Both login steps (the first only while the account id is unknown)."""
        try:
            if self._account_id is None:
                self._account_id = await self._authenticate()
            self._session = await self._login_by_id(self._account_id)
        except LinkFatalError as refused:
            self._stopped = refused
            raise
        logger.info("link %s: logged in to Dexcom Share (%s)", self._link_id, self._server.region)

    async def _authenticate(self) -> Secret:
        payload = {
            "accountName": self._username.reveal(),
            "password": self._password.reveal(),
            "applicationId": self._server.application_id,
        }
        return await self._post_for_id(AUTHENTICATE, payload)

    async def _login_by_id(self, account_id: Secret) -> Secret:
        payload = {
            "accountId": account_id.reveal(),
            "password": self._password.reveal(),
            "applicationId": self._server.application_id,
        }
        return await self._post_for_id(LOGIN_BY_ID, payload)

    async def _post_for_id(self, endpoint: str, payload: dict[str, Any]) -> Secret:
        answer = await self._post(endpoint, payload, {})
        fault = fault_of(answer, link_id=self._link_id, endpoint=endpoint)
        if fault is not None:
            raise errors.login_refused(self._link_id, self._server.region, fault)
        value = _json_of(answer, endpoint)
        if not isinstance(value, str) or not is_uuid(value):
            raise RetriableError(f"Dexcom Share answered {endpoint} without an id")
        if value == ZERO_UUID:
            raise LinkFatalError(self._link_id, errors.NO_USABLE_ID)
        return Secret(value)

    async def _read(self, minutes: int, max_count: int) -> ShareAnswer:
        assert self._session is not None
        params = {
            "sessionId": self._session.reveal(),
            "minutes": str(minutes),
            "maxCount": str(max_count),
        }
        answer = await self._post(READ_GLUCOSE, {}, params)
        fault = fault_of(answer, link_id=self._link_id, endpoint=READ_GLUCOSE)
        if fault is not None:
            raise errors.read_refused(self._link_id, fault)
        readings = _json_of(answer, READ_GLUCOSE)
        if not isinstance(readings, list):
            raise RetriableError(f"Dexcom Share answered {READ_GLUCOSE} without a JSON array")
        return ShareAnswer(
            status=answer.status,
            content_type=answer.content_type,
            body=answer.body,
            account_digest=self._account_digest(),
            region=self._server.region,
            minutes=minutes,
            max_count=max_count,
            reading_count=len(readings),
        )

    async def _post(
        self, endpoint: str, payload: dict[str, Any], params: dict[str, str]
    ) -> HttpAnswer:
        return await post_share(
            self._http,
            self._server.url(endpoint),
            endpoint=endpoint,
            payload=payload,
            params=params,
            timeouts=self._timeout,
            user_agent=self._user_agent,
        )

    def _account_digest(self) -> str:
        assert self._account_id is not None
        return stream_digest(self._account_id.reveal().lower())


def _json_of(answer: HttpAnswer, endpoint: str) -> object:
    try:
        value: object = json.loads(answer.body)
    except ValueError:
        raise RetriableError(f"Dexcom Share answered {endpoint} with invalid JSON") from None
    return value


def _session_refused_after_login(rejected: NightstreamError) -> RetriableError:
    return RetriableError(f"Dexcom rejected a session it had just issued ({rejected})")

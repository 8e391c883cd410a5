"""HTTP client for one Nightscout target.

API v3 (the default): the access token is exchanged for a JWT, and each document is written with
``PUT /api/v3/{collection}/{identifier}`` (201 inserted, 200 replaced, 410 deleted by the user).
API v1 (for old servers): arrays are POSTed to ``/api/v1/{collection}`` with the ``api-secret``
header.

Retriable failures (timeouts, connection errors, 5xx, 408, 429, redirects) are retried here with
backoff for as long as the target's policy allows; the caller only sees a ``RetriableError`` once
that policy gives up. Problems only the user can fix raise ``TargetFatalError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from schemas.backoff import Backoff, RetryPolicy, parse_retry_after
from schemas.documents import Collection
from schemas.errors import RetriableError, TargetFatalError
from schemas.fencing import check_lease, check_lease_on_the_wire
from schemas.lifecycle import Closing
from sinks.nightscout.outcomes import WriteOutcome, WriteStatus

logger = logging.getLogger(__name__)

ApiVersion = Literal["v3", "v1"]

SERVER_MANAGED_FIELDS = frozenset({"srvModified", "srvCreated", "subject", "modifiedBy", "isValid"})

_V3_BODY_LIMIT = 50 * 1024 * 1024
# body-parser's "1mb" is 1 MiB; stay a little under it for the framing of the array.
_V1_BODY_LIMITS = {Collection.DEVICESTATUS: 1_000_000}
_V1_DEFAULT_BODY_LIMIT = 40 * 1024 * 1024
_V1_MAX_DOCUMENTS = 1000
# v3 reads anything after a "." in the last path segment as an output format extension.
_UNUSABLE_IN_IDENTIFIER = re.compile(r"[./?#%\\\s]")
_MISSING_PERMISSION = re.compile(r"Missing permission (\S+)")
_TOKEN_IN_PATH = re.compile(r"(/api/v2/authorization/request/)[^\s'\"?#&,)]+")
_HTTP_LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_JWT_FALLBACK_LIFETIME = 600.0
_JWT_MAX_MARGIN = 600.0
_WRITE_PERMISSIONS = tuple(
    f"api:{collection.value}:{op}" for collection in Collection for op in ("create", "update")
)
_HOW_TO_GET_ACCESS = (
    "Create one in Nightscout under Admin Tools: add a subject with a role that has create and "
    "update permission on entries, treatments and devicestatus, then configure that subject's "
    "access token here. Changing API_SECRET invalidates every access token."
)
_ROLE_HELP = (
    "In Nightscout Admin Tools give the token's subject a role with the permissions "
    + ", ".join(_WRITE_PERMISSIONS)
    + " (no built-in role grants entries:create or any update permission)."
)


@dataclass(frozen=True, kw_only=True)
class NightscoutTargetConfig:
    name: str
    """Names the target in logs and errors."""
    base_url: str
    access_token: str | None = field(default=None, repr=False)
    """v3 credential: a subject's access token from Admin Tools (never the API secret)."""
    api_version: ApiVersion = "v3"
    api_secret: str | None = field(default=None, repr=False)
    """v1 credential only; sent as the SHA-1 hex of the secret in the ``api-secret`` header."""
    connect_timeout: float = 10.0
    request_timeout: float = 30.0
    max_concurrency: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    verify_tls: bool = True

    def __post_init__(self) -> None:
        if self.api_version not in ("v3", "v1"):
            raise ValueError(f"target {self.name}: api_version must be 'v3' or 'v1'")
        if self.api_version == "v3" and not self.access_token:
            raise ValueError(f"target {self.name}: API v3 needs an access token")
        if self.api_version == "v1" and not self.api_secret:
            raise ValueError(f"target {self.name}: API v1 needs the API secret")
        if self.max_concurrency < 1:
            raise ValueError(f"target {self.name}: max_concurrency must be >= 1")
        if self.connect_timeout <= 0 or self.request_timeout <= 0:
            raise ValueError(f"target {self.name}: timeouts must be > 0")
        try:
            url = httpx.URL(self.base_url)
        except httpx.InvalidURL:
            raise ValueError(f"target {self.name}: base_url is not a valid URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"target {self.name}: base_url must be an http(s) URL with a host")
        if url.userinfo or url.query:
            # The usual mistake is pasting a URL with ?token=... or user:secret@ in it.
            raise ValueError(
                f"target {self.name}: base_url must not carry credentials or a query; "
                "put the token in access_token"
            )


class _TokenPathFilter(logging.Filter):
    """Hides the access token in the JWT request path from httpx's and httpcore's own logs.

    httpx logs every request URL at INFO, and httpcore logs response headers at DEBUG, which
    include the Location of a redirected JWT request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_PATH.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_TOKEN_PATH_FILTER = _TokenPathFilter()


def _hide_tokens_from_http_library_logs() -> None:
    for name in _HTTP_LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        if _TOKEN_PATH_FILTER not in library_logger.filters:
            library_logger.addFilter(_TOKEN_PATH_FILTER)


@dataclass(frozen=True)
class _Jwt:
    token: str = field(repr=False)
    subject: str | None
    permission_groups: tuple[tuple[str, ...], ...] | None
    lifetime: float
    refresh_at: float


class _RetryLater(Exception):
    """One attempt failed in a way that another attempt may not."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class _LockEntry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _LockEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _LockEntry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    @contextlib.asynccontextmanager
    async def hold_all(self, keys: Iterable[tuple[str, str]]) -> AsyncIterator[None]:
        # A fixed acquisition order keeps two overlapping batches from deadlocking.
        async with contextlib.AsyncExitStack() as stack:
            for key in sorted(set(keys)):
                await stack.enter_async_context(self.hold(key))
            yield


class NightscoutClient(Closing):
    """Writes documents to one Nightscout target; use as ``async with NightscoutClient(cfg)``."""

    def __init__(self, config: NightscoutTargetConfig) -> None:
        _hide_tokens_from_http_library_logs()
        self._config = config
        pool_size = config.max_concurrency + 1  # the JWT exchange runs beside a slot's write
        self._transport = httpx.AsyncHTTPTransport(
            verify=config.verify_tls,
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        )
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            transport=self._transport,
            timeout=httpx.Timeout(config.request_timeout, connect=config.connect_timeout),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._identifier_locks = _KeyedLocks()
        self._jwt: _Jwt | None = None
        self._jwt_lock = asyncio.Lock()
        self._redirect_warned = False
        secrets = [config.access_token, config.api_secret]
        if config.access_token:
            secrets.append(quote(config.access_token, safe=""))
        if config.api_secret:
            secrets.append(_sha1_hex(config.api_secret))
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    @property
    def config(self) -> NightscoutTargetConfig:
        return self._config

    @property
    def busy_identifiers(self) -> int:
        """Identifiers with a write in flight or waiting; 0 when idle (the lock map is pruned)."""
        return len(self._identifier_locks)

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ v3 writes

    async def put(
        self, collection: Collection, identifier: str, document: Mapping[str, Any]
    ) -> WriteOutcome:
        """Insert or replace one document; see ``WriteStatus`` for what can come back."""
        self._require("v3")
        collection = Collection(collection)
        problem = _identifier_problem(identifier)
        if problem is not None:
            return WriteOutcome(WriteStatus.REJECTED, collection, identifier, message=problem)
        body = {k: v for k, v in document.items() if k not in SERVER_MANAGED_FIELDS}
        # A foreign _id makes Mongo's replace fail, which v3 reports as a retriable-looking 500.
        body.pop("_id", None)
        body["identifier"] = identifier
        try:
            content = _encode(body)
        except ValueError as exc:
            return WriteOutcome(WriteStatus.REJECTED, collection, identifier, message=str(exc))
        if len(content) > _V3_BODY_LIMIT:
            message = f"document is {len(content)} bytes; Nightscout accepts at most 50 MiB"
            return WriteOutcome(WriteStatus.REJECTED, collection, identifier, message=message)

        path = f"/api/v3/{collection.value}/{identifier}"
        async with self._identifier_locks.hold((collection, identifier)):
            response = await self._send_v3("PUT", path, content, what=f"PUT {path}")
        return self._put_outcome(collection, identifier, response)

    def _put_outcome(
        self, collection: Collection, identifier: str, response: httpx.Response
    ) -> WriteOutcome:
        status = response.status_code
        if status == 201:
            kind = WriteStatus.WRITTEN_CREATED
        elif 200 <= status < 300:
            kind = WriteStatus.WRITTEN_REPLACED
        elif status == 410:
            kind = WriteStatus.DELETED_BY_USER
        elif status == 403:
            raise self._forbidden(response)
        elif status in (404, 405):
            raise self._endpoint_missing(response, f"/api/v3/{collection.value}")
        else:
            return WriteOutcome(
                WriteStatus.REJECTED,
                collection,
                identifier,
                http_status=status,
                message=self._server_message(response),
            )
        last_modified = _json_field(response, "lastModified")
        return WriteOutcome(
            kind,
            collection,
            identifier,
            http_status=status,
            last_modified=last_modified if isinstance(last_modified, int) else None,
        )

    async def _send_v3(
        self, method: str, path: str, content: bytes | None, *, what: str
    ) -> httpx.Response:
        """Send until the answer is not retriable.

        A 401 or 403 gets one fresh JWT and one more try; a second one in a row is final.
        """
        backoff = Backoff(self._config.retry)
        auth_retried = False
        while True:
            jwt: str | None = None
            try:
                async with self._slots:
                    # Read the JWT only once a slot is ours, so that writes queued behind an
                    # expired JWT do not all try it: each 401 adds to the server's IP delay.
                    jwt = await self._current_jwt()
                    response = await self._send(
                        method, path, content, {"Authorization": f"Bearer {jwt}"}
                    )
                    if response.status_code in (401, 403):
                        self._distrust_jwt(jwt)
                self._raise_if_retriable(response)
            except _RetryLater as exc:
                if jwt is not None:
                    # The server may be redeployed meanwhile (new JWT key): the next 401 is new.
                    auth_retried = False
                await self._pause(backoff, what, exc)
                continue
            if response.status_code in (401, 403) and not auth_retried:
                # Regenerated server keys, an expired JWT or a changed subject all look like
                # this; a fresh JWT settles it. Never in a loop: each 401 costs ~5 s of IP delay.
                auth_retried = True
                continue
            if response.status_code == 401:
                raise self._fatal(
                    f"Nightscout rejects JWTs issued for the access token "
                    f"({self._status_text(response)}). The token is probably revoked or was "
                    f"invalidated by an API_SECRET change. {_HOW_TO_GET_ACCESS}"
                )
            return response

    # ------------------------------------------------------------------ JWT

    async def _current_jwt(self) -> str:
        async with self._jwt_lock:
            jwt = self._jwt
            if jwt is None or time.monotonic() >= jwt.refresh_at:
                jwt = self._jwt = await self._request_jwt()
            assert jwt is not None
            return jwt.token

    def _distrust_jwt(self, token: str) -> None:
        """Make the next caller fetch a new JWT (once, whoever comes first)."""
        if self._jwt is not None and self._jwt.token == token:
            self._jwt = None

    async def _request_jwt(self) -> _Jwt:
        token = self._config.access_token
        assert token is not None
        path = f"/api/v2/authorization/request/{quote(token, safe='')}"
        # No slot of its own: the caller already holds one.
        response = await self._send("GET", path, None, {})
        self._raise_if_retriable(response)
        status = response.status_code
        if status == 401:
            raise self._fatal(
                f"Nightscout does not accept the access token ({self._status_text(response)}): "
                f"it is invalid or revoked. {_HOW_TO_GET_ACCESS}"
            )
        if status in (404, 405):
            raise self._endpoint_missing(response, "/api/v2/authorization/request")
        if status != 200:
            raise self._fatal(
                f"exchanging the access token for a JWT failed with {self._status_text(response)}"
            )
        try:
            payload = response.json()
            jwt = str(payload["token"])
        except (ValueError, KeyError, TypeError):
            raise self._fatal(
                "the JWT request answered 200 without a token; is base_url a Nightscout site?"
            ) from None
        received = time.monotonic()
        lifetime = _lifetime(payload.get("iat"), payload.get("exp"))
        margin = min(lifetime / 5, _JWT_MAX_MARGIN)
        groups = payload.get("permissionGroups")
        subject = payload.get("sub")
        logger.debug(
            "target %s: got a JWT for subject %r valid for %.0f s",
            self._config.name,
            subject,
            lifetime,
        )
        return _Jwt(
            token=jwt,
            subject=subject if isinstance(subject, str) else None,
            permission_groups=_permission_groups(groups),
            lifetime=lifetime,
            refresh_at=received + lifetime - margin,
        )

    # ------------------------------------------------------------------ v1 batches

    async def post_v1_batch(
        self, collection: Collection, documents: Sequence[Mapping[str, Any]]
    ) -> list[WriteOutcome]:
        """POST documents to API v1 in as few requests as the body limits allow.

        Returns one outcome per document, in order. A batch the server rejects as a whole (400,
        413, 422) is split in halves until the bad documents are found.
        """
        self._require("v1")
        collection = Collection(collection)
        outcomes: list[WriteOutcome | None] = [None] * len(documents)
        limit = _V1_BODY_LIMITS.get(collection, _V1_DEFAULT_BODY_LIMIT)
        encoded: dict[int, bytes] = {}
        for index, document in enumerate(documents):
            identifier = _optional_identifier(document)
            body = {k: v for k, v in document.items() if k not in SERVER_MANAGED_FIELDS}
            try:
                encoded[index] = _encode(body)
            except ValueError as exc:
                outcomes[index] = WriteOutcome(
                    WriteStatus.REJECTED, collection, identifier, message=str(exc)
                )
                continue
            if len(encoded[index]) + 2 > limit:
                del encoded[index]
                outcomes[index] = WriteOutcome(
                    WriteStatus.REJECTED,
                    collection,
                    identifier,
                    message=f"document is larger than the {limit} bytes {collection.value} "
                    "accepts in one v1 request",
                )

        identifiers = {_optional_identifier(documents[i]) for i in encoded}
        keys = [(collection, i) for i in identifiers if i is not None]
        async with self._identifier_locks.hold_all(keys):
            for chunk in _pack(encoded, limit):
                await self._post_v1_chunk(collection, chunk, encoded, documents, outcomes)
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(documents)
        return done

    async def _post_v1_chunk(
        self,
        collection: Collection,
        chunk: list[int],
        encoded: Mapping[int, bytes],
        documents: Sequence[Mapping[str, Any]],
        outcomes: list[WriteOutcome | None],
    ) -> None:
        path = f"/api/v1/{collection.value}"
        content = b"[" + b",".join(encoded[i] for i in chunk) + b"]"
        response = await self._send_v1("POST", path, content, what=f"POST {path}")
        status = response.status_code
        if status in (401, 403):
            raise self._secret_rejected(response)
        if status in (404, 405):
            raise self._endpoint_missing(response, path)
        if 200 <= status < 300:
            for i in chunk:
                outcomes[i] = WriteOutcome(
                    WriteStatus.WRITTEN_V1,
                    collection,
                    _optional_identifier(documents[i]),
                    http_status=status,
                )
            return
        if len(chunk) > 1 and status in (400, 413, 422):
            half = len(chunk) // 2
            await self._post_v1_chunk(collection, chunk[:half], encoded, documents, outcomes)
            await self._post_v1_chunk(collection, chunk[half:], encoded, documents, outcomes)
            return
        message = self._server_message(response)
        for i in chunk:
            outcomes[i] = WriteOutcome(
                WriteStatus.REJECTED,
                collection,
                _optional_identifier(documents[i]),
                http_status=status,
                message=message,
            )

    async def _send_v1(
        self, method: str, path: str, content: bytes | None, *, what: str
    ) -> httpx.Response:
        secret = self._config.api_secret
        assert secret is not None
        headers = {"api-secret": _sha1_hex(secret)}
        backoff = Backoff(self._config.retry)
        while True:
            try:
                async with self._slots:
                    response = await self._send(method, path, content, headers)
                self._raise_if_retriable(response)
            except _RetryLater as exc:
                await self._pause(backoff, what, exc)
                continue
            return response

    # ------------------------------------------------------------------ self-test

    async def self_test(self) -> str:
        """Check credentials, permissions and one read per collection; return a summary.

        Raises TargetFatalError when the sink could not write (bad token, missing permission).
        """
        config = self._config
        lines = [f"target {config.name}: {config.base_url} (API {config.api_version})"]
        if config.api_version == "v3":
            await self._current_jwt()
            jwt = self._jwt
            assert jwt is not None
            lines.append(
                f"access token accepted: subject {jwt.subject or '(unnamed)'}, "
                f"JWT valid for {_duration(jwt.lifetime)}"
            )
            if jwt.permission_groups is None:
                lines.append("permissions: not listed by the server; not checked")
            else:
                missing = [p for p in _WRITE_PERMISSIONS if not _granted(jwt.permission_groups, p)]
                if missing:
                    raise self._fatal(
                        f"the access token lacks permission {', '.join(missing)}. {_ROLE_HELP}"
                    )
                lines.append("permissions: create and update granted on every collection")
        for collection in Collection:
            lines.append(f"{collection.value}: {await self._probe_read(collection)}")
        return "\n".join(lines)

    async def _probe_read(self, collection: Collection) -> str:
        if self._config.api_version == "v3":
            path = f"/api/v3/{collection.value}?limit=1&sort$desc=date"
            response = await self._send_v3("GET", path, None, what=f"GET {path}")
        else:
            path = f"/api/v1/{collection.value}?count=1"
            response = await self._send_v1("GET", path, None, what=f"GET {path}")
            if response.status_code in (401, 403):
                raise self._secret_rejected(response)
        if response.status_code != 200:
            return f"read failed ({self._status_text(response)}); writing does not need it"
        try:
            payload = response.json()
        except ValueError:
            return "read answered 200 but not with JSON"
        result = payload.get("result") if isinstance(payload, dict) else payload
        if not isinstance(result, list):
            return "read OK"
        if not result:
            return "read OK, no documents yet"
        latest = result[0] if isinstance(result[0], dict) else {}
        return f"read OK, latest document date {latest.get('date') or latest.get('created_at')}"

    # ------------------------------------------------------------------ plumbing

    def _require(self, version: ApiVersion) -> None:
        if self._config.api_version != version:
            raise RuntimeError(
                f"target {self._config.name} is configured for API "
                f"{self._config.api_version}, not {version}"
            )

    async def _send(
        self, method: str, path: str, content: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        request = self._http.build_request(method, path, content=content, headers=headers)
        request.extensions["trace"] = check_lease_on_the_wire
        try:
            # Straight to the transport: the client's auth, redirect and cookie layers do nothing
            # here (no cookies, redirects are not followed) but cost about a tenth of the CPU.
            check_lease()
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise _RetryLater(f"timed out ({type(exc).__name__})") from None
        except httpx.RequestError as exc:
            raise _RetryLater(f"request failed: {self._describe(exc)}") from None
        response.request = request
        return response

    def _raise_if_retriable(self, response: httpx.Response) -> None:
        status = response.status_code
        if 300 <= status < 400:
            self._warn_redirect(response)
            raise _RetryLater(f"redirected with HTTP {status}")
        if status in (408, 425, 429) or status >= 500:
            raise _RetryLater(
                self._status_text(response),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )

    def _warn_redirect(self, response: httpx.Response) -> None:
        if self._redirect_warned:
            return
        self._redirect_warned = True
        location = httpx.URL(response.headers.get("Location", ""))
        base = httpx.URL(self._config.base_url)
        if location.scheme == "https" and base.scheme == "http":
            suggested = base.copy_with(scheme="https", host=location.host, port=location.port)
            logger.warning(
                "target %s: Nightscout redirects plain HTTP to HTTPS; set the target's base_url "
                "to %s. Writes are retried until then.",
                self._config.name,
                str(suggested),
            )
        else:
            # Only scheme and host: the redirected path may contain the access token.
            logger.warning(
                "target %s: Nightscout answers with a redirect (HTTP %d) to %s://%s; check the "
                "target's base_url. Writes are retried until then.",
                self._config.name,
                response.status_code,
                location.scheme or base.scheme,
                location.host or base.host,
            )

    async def _pause(self, backoff: Backoff, what: str, exc: _RetryLater) -> None:
        reason = self._redact(exc.reason)
        delay = backoff.next_delay(exc.retry_after)
        if delay is None:
            raise RetriableError(
                f"target {self._config.name}: {what} still failing after {backoff.attempts} "
                f"attempts in {backoff.elapsed:.0f} s: {reason}",
                retry_after=exc.retry_after,
            )
        # Log the first failure and then less and less often, so a long outage stays readable.
        attempt = backoff.attempts
        level = logging.WARNING if attempt & (attempt - 1) == 0 else logging.DEBUG
        logger.log(
            level,
            "target %s: %s failed (%s); attempt %d, retrying in %.2f s",
            self._config.name,
            what,
            reason,
            attempt,
            delay,
        )
        await asyncio.sleep(delay)

    def _forbidden(self, response: httpx.Response) -> TargetFatalError:
        message = self._server_message(response)
        match = _MISSING_PERMISSION.search(message or "")
        permission = match.group(1) if match else "needed for this write"
        return self._fatal(
            f"the access token lacks permission {permission} (HTTP 403 {message}). {_ROLE_HELP}"
        )

    def _secret_rejected(self, response: httpx.Response) -> TargetFatalError:
        return self._fatal(
            f"Nightscout rejects the API secret ({self._status_text(response)}). Use the "
            "site's current API_SECRET (at least 12 characters)."
        )

    def _endpoint_missing(self, response: httpx.Response, path: str) -> TargetFatalError:
        return self._fatal(
            f"{path} answered {self._status_text(response)}: check that base_url points at the "
            f"Nightscout site itself (cgm-remote-monitor 15 or later for API v3)"
        )

    def _fatal(self, message: str) -> TargetFatalError:
        return TargetFatalError(self._config.name, self._redact(message))

    def _status_text(self, response: httpx.Response) -> str:
        message = self._server_message(response)
        return f"HTTP {response.status_code}" + (f" {message}" if message else "")

    def _server_message(self, response: httpx.Response) -> str | None:
        try:
            payload = response.json()
        except ValueError:
            text = " ".join(response.text.split())
            return self._redact(text[:300]) if text else None
        if not isinstance(payload, dict):
            return None
        parts = [str(payload[k]) for k in ("message", "description") if payload.get(k)]
        return self._redact(": ".join(parts)) if parts else None

    def _describe(self, exc: Exception) -> str:
        return self._redact(str(exc)) or type(exc).__name__

    def _redact(self, text: str) -> str:
        # The JWT carries the access token in readable base64, so it is a secret as well.
        secrets = [*self._secrets, self._jwt.token] if self._jwt else self._secrets
        for secret in secrets:
            text = text.replace(secret, "***")
        return text


def _encode(document: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError as exc:
        raise ValueError(f"document is not valid JSON: {exc}") from None
    except TypeError as exc:
        raise ValueError(f"document is not JSON-serialisable: {exc}") from None
    return text.encode("utf-8")


def _pack(encoded: Mapping[int, bytes], limit: int) -> list[list[int]]:
    """Group documents, in order, into arrays whose JSON stays within ``limit`` bytes."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 2
    for index, body in encoded.items():
        extra = len(body) + (1 if current else 0)
        if current and (size + extra > limit or len(current) >= _V1_MAX_DOCUMENTS):
            chunks.append(current)
            current, size, extra = [], 2, len(body)
        current.append(index)
        size += extra
    if current:
        chunks.append(current)
    return chunks


def _identifier_problem(identifier: str) -> str | None:
    if not isinstance(identifier, str) or not identifier:
        return "identifier must be a non-empty string"
    if _UNUSABLE_IN_IDENTIFIER.search(identifier):
        return f"identifier {identifier!r} contains a character API v3 cannot address"
    return None


def _optional_identifier(document: Mapping[str, Any]) -> str | None:
    value = document.get("identifier")
    return value if isinstance(value, str) and value else None


def _json_field(response: httpx.Response, name: str) -> Any:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload.get(name) if isinstance(payload, dict) else None


def _lifetime(iat: Any, exp: Any) -> float:
    numbers = (int, float)
    if isinstance(iat, numbers) and isinstance(exp, numbers) and exp > iat:
        return float(exp - iat)
    return _JWT_FALLBACK_LIFETIME


def _permission_groups(groups: Any) -> tuple[tuple[str, ...], ...] | None:
    if not isinstance(groups, list):
        return None
    return tuple(
        tuple(p for p in group if isinstance(p, str)) for group in groups if isinstance(group, list)
    )


def _granted(groups: Iterable[Iterable[str]], permission: str) -> bool:
    """Shiro-style match as Nightscout does it: ``*`` and ``a,b`` parts, short grants imply more."""
    wanted = permission.split(":")
    for group in groups:
        for grant in group:
            parts = grant.split(":")
            if all(
                i >= len(parts) or parts[i] == "*" or part in parts[i].split(",")
                for i, part in enumerate(wanted)
            ) and all(p == "*" for p in parts[len(wanted) :]):
                return True
    return False


def _sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{seconds:.0f} s"

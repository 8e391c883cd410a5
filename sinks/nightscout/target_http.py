"""One target's HTTP plumbing: the connection pool, write slots, and single attempts.

``attempt_slot()`` is where an attempt begins: it waits for one of ``max_concurrency`` slots
(and, when targets share one, for a slot of the process-wide limit) and then starts the
attempt's deadline (waiting for a slot does not count against it).
``exchange()`` puts one request on the wire and turns what can be tried again (no connection,
a timeout, 5xx, 408, 425, 429, a redirect) into ``RetryLater``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import AsyncIterator

import certifi
import httpx

from nightstream.schemas.backoff import parse_retry_after
from nightstream.schemas.fencing import check_lease, check_lease_on_the_wire
from nightstream.sinks.nightscout.answers import Answers
from nightstream.sinks.nightscout.redaction import Redactor, hide_tokens_from_http_library_logs
from nightstream.sinks.nightscout.retrying import RetryLater, RetryLoop
from nightstream.sinks.nightscout.stopping import StopGate
from nightstream.sinks.nightscout.target_config import NightscoutTargetConfig
from nightstream.sinks.nightscout.target_health import TargetHealth

logger = logging.getLogger("nightstream.sinks.nightscout.client")

IDLE_CLOSE_SECONDS = 5.0
"""A target's connections are closed this long after its last exchange ended (httpx's own
keep-alive expiry, but done then rather than at the next request). A sink for 10,000 sites
writes to each every few minutes: left to httpx, every site kept an expired connection open
until then (10,000 sockets, and their objects in every full garbage collection)."""


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every target of the process: building one parses the whole
    CA bundle (about 40 ms and 0.8 MiB each), which thousands of sites cannot afford apiece."""
    return ssl.create_default_context(cafile=certifi.where())


class TargetHttp:
    def __init__(
        self,
        config: NightscoutTargetConfig,
        stop: asyncio.Event | None,
        shared_slots: asyncio.Semaphore | None = None,
    ) -> None:
        hide_tokens_from_http_library_logs()
        self.config = config
        pool_size = config.max_concurrency + 1  # the JWT exchange runs beside a slot's write
        self._transport = httpx.AsyncHTTPTransport(
            verify=_tls_context() if config.verify_tls else False,
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
        self._shared_slots = shared_slots
        self.redactor = Redactor(config.access_token, config.api_secret)
        self.answers = Answers(config.name, self.redactor)
        self.gate = StopGate(config.name, stop, drain=config.stop_drain_seconds)
        self.health = TargetHealth(config.name)
        self.retry = RetryLoop(config.name, config.retry, self.gate, self.health, self.redactor)
        self._redirect_warned = False
        self._exchanges = 0
        self._idle_close: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        if self._idle_close is not None:
            self._idle_close.cancel()
        await self.gate.aclose()
        await self._http.aclose()

    def _close_when_idle(self) -> None:
        self._idle_close = None
        if self._exchanges == 0:
            # The pool lets go of its connections before its first await: an exchange that
            # starts meanwhile opens a new one.
            task = asyncio.create_task(self._transport.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @contextlib.asynccontextmanager
    async def attempt_slot(self) -> AsyncIterator[None]:
        async with (
            self._slots,
            self._shared_slots or contextlib.nullcontext(),
            self.gate.attempt(self.config.request_timeout),
        ):
            yield

    async def exchange(
        self, method: str, path: str, content: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        """One request and its whole answer; raises ``RetryLater`` if another try may help."""
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        request = self._http.build_request(method, path, content=content, headers=headers)
        request.extensions["trace"] = check_lease_on_the_wire
        if self._idle_close is not None:
            self._idle_close.cancel()
            self._idle_close = None
        self._exchanges += 1
        try:
            return await self._exchange(request)
        finally:
            self._exchanges -= 1
            if self._exchanges == 0:
                self._idle_close = asyncio.get_running_loop().call_later(
                    IDLE_CLOSE_SECONDS, self._close_when_idle
                )

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        try:
            # Straight to the transport: the client's auth, redirect and cookie layers do nothing
            # here (no cookies, redirects are not followed) but cost about a tenth of the CPU.
            check_lease()  # a sink that lost its partitions must not write (schemas.fencing)
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            kind = type(exc).__name__
            raise RetryLater(f"timed out ({kind})", f"not answering ({kind})") from None
        except httpx.RequestError as exc:
            detail = self.redactor(str(exc)) or type(exc).__name__
            raise RetryLater(
                f"request failed: {detail}", f"unreachable ({type(exc).__name__})"
            ) from None
        response.request = request
        self._raise_if_retriable(response)
        return response

    def _raise_if_retriable(self, response: httpx.Response) -> None:
        status = response.status_code
        if 300 <= status < 400:
            self._warn_redirect(response)
            raise RetryLater(f"redirected with HTTP {status}", f"redirecting (HTTP {status})")
        if status in (408, 425, 429) or status >= 500:
            raise RetryLater(
                self.answers.status_text(response),
                f"answering HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )

    def _warn_redirect(self, response: httpx.Response) -> None:
        if self._redirect_warned:
            return
        self._redirect_warned = True
        location = httpx.URL(response.headers.get("Location", ""))
        base = httpx.URL(self.config.base_url)
        if location.scheme == "https" and base.scheme == "http":
            suggested = base.copy_with(scheme="https", host=location.host, port=location.port)
            logger.warning(
                "target %s: Nightscout redirects plain HTTP to HTTPS; set the target's base_url "
                "to %s. Writes are retried until then.",
                self.config.name,
                str(suggested),
            )
        else:
            # Only scheme and host: the redirected path may contain the access token.
            logger.warning(
                "target %s: Nightscout answers with a redirect (HTTP %d) to %s://%s; check the "
                "target's base_url. Writes are retried until then.",
                self.config.name,
                response.status_code,
                location.scheme or base.scheme,
                location.host or base.host,
            )

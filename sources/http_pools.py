"""Connection pools shared by every link of a poller, one per vendor host, within a budget.

A default httpx client per link costs about 840 KiB and 44 ms of CPU (its own TLS context and
pool). Here each link keeps a small ``httpx.AsyncClient`` of its own (cookies, headers) over one
:class:`SharedPools` transport: one pool per ``scheme://host:port``, one TLS context for all of
them, and per host a request budget (a rate and a number of requests in flight) that every link
of the process shares, logins included.

Links never close the pools: ``aclose()`` on the transport (which ``AsyncClient.aclose()`` and
``async with client`` call) does nothing, because closing a shared pool would drop every link's
connections. The poller calls :meth:`SharedPools.close_pools` when its role ends; the next
request opens fresh pools, so a restarted role never meets a closed client.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import httpx
from aiolimiter import AsyncLimiter

HostKey = tuple[str | None, bytes, bytes, int | None]
"""Vendor (None: no vendor named), scheme, host, port."""


@dataclass(frozen=True, slots=True)
class HostBudget:
    """What one process may ask of one vendor host."""

    requests_per_second: float = 50.0
    """Sustained rate; a burst of up to one second's worth passes at once (leaky bucket)."""
    max_in_flight: int = 16
    """Requests sent and not yet fully answered. Also the pool's size: httpcore checks every
    pooled connection on each request, so a large pool costs CPU on every request."""

    def __post_init__(self) -> None:
        if self.requests_per_second <= 0 or self.max_in_flight < 1:
            raise ValueError("a host budget needs a positive rate and at least one request")


DEFAULT_BUDGET = HostBudget()
"""Sized for one process of 10,000 links: Dexcom links every 5 min read about 33 times a second
from one host (a cold start logs each in too, 2 more requests, spread over the first interval);
1,000 LibreLinkUp links every minute about 17. No vendor publishes its limit; a larger clinic
splits links over instances (or raises this) rather than bursting."""


class _HostPool:
    def __init__(self, budget: HostBudget, transport: httpx.AsyncHTTPTransport) -> None:
        self.transport = transport
        self.rate = AsyncLimiter(budget.requests_per_second, 1.0)
        self.slots = asyncio.Semaphore(budget.max_in_flight)
        self.requests = 0


class SharedPools(httpx.AsyncBaseTransport):
    def __init__(
        self,
        vendor_budgets: Mapping[str, HostBudget] | None = None,
        default_budget: HostBudget = DEFAULT_BUDGET,
        budget_waited: Callable[[str, float], None] | None = None,
    ) -> None:
        """``vendor_budgets`` maps a vendor (``dexcomshare``) to the budget of each of its hosts;
        other vendors' hosts, and requests sent without ``for_vendor``, get ``default_budget``.
        ``budget_waited(vendor, seconds)`` hears how long each request waited for the budget
        (the host stands for the vendor of a request sent without ``for_vendor``)."""
        self._vendor_budgets = dict(vendor_budgets or {})
        self._budget_waited = budget_waited
        self._default_budget = default_budget
        self._pools: dict[HostKey, _HostPool] = {}
        self._ssl_context: ssl.SSLContext | None = None

    def requests_by_host(self) -> dict[str, int]:
        """Requests sent to each host since the pools were opened."""
        counts: dict[str, int] = {}
        for key, pool in self._pools.items():
            counts[_describe(key)] = counts.get(_describe(key), 0) + pool.requests
        return counts

    def budget_of(self, vendor: str | None) -> HostBudget:
        return self._vendor_budgets.get(vendor or "", self._default_budget)

    def for_vendor(self, vendor: str) -> httpx.AsyncBaseTransport:
        """These pools as the transport of one of ``vendor``'s links (its hosts' budget)."""
        return _VendorTransport(self, vendor)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.send_within_budget(request, None)

    async def send_within_budget(
        self, request: httpx.Request, vendor: str | None
    ) -> httpx.Response:
        pool = self._pool(request.url, vendor)
        if self._budget_waited is None:
            await self._within_budget(pool)
        else:
            started = time.monotonic()
            await self._within_budget(pool)
            self._budget_waited(vendor or request.url.host, time.monotonic() - started)
        release = _once(pool.slots.release)
        try:
            pool.requests += 1
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            release()
            raise
        # The slot stays taken until the body has been read (or the response closed).
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def _within_budget(self, pool: _HostPool) -> None:
        """Wait for the host's rate and a free slot (returns holding the slot)."""
        await pool.rate.acquire()
        await pool.slots.acquire()

    async def aclose(self) -> None:
        """Does nothing: a link's client must not close the pools every link uses."""

    async def close_pools(self) -> None:
        """Close every connection; the next request opens a fresh pool for its host."""
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.transport.aclose()

    def _pool(self, url: httpx.URL, vendor: str | None) -> _HostPool:
        key: HostKey = (vendor, url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            budget = self.budget_of(vendor)
            limits = httpx.Limits(
                max_connections=budget.max_in_flight,
                max_keepalive_connections=budget.max_in_flight,
            )
            # trust_env off: proxy variables would give every link its own TLS context.
            transport = httpx.AsyncHTTPTransport(verify=self._tls(), limits=limits, trust_env=False)
            pool = self._pools[key] = _HostPool(budget, transport)
        return pool

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context


class _VendorTransport(httpx.AsyncBaseTransport):
    def __init__(self, pools: SharedPools, vendor: str) -> None:
        self._pools = pools
        self._vendor = vendor

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pools.send_within_budget(request, self._vendor)

    async def aclose(self) -> None:
        """Does nothing, as ``SharedPools.aclose``."""


class _ReleasingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._release()


def _once(action: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run


def _describe(key: HostKey) -> str:
    _vendor, scheme, host, port = key
    suffix = f":{port}" if port is not None else ""
    return f"{scheme.decode()}://{host.decode()}{suffix}"

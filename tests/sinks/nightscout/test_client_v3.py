"""The Nightscout client against the project's v3 test server, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.documents import Collection
from nightstream.schemas.errors import RetriableError, TargetFatalError
from nightstream.simulators.nightscout import Faults, NightscoutTestServer
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.outcomes import WriteStatus
from tests.timing import scaled

API_SECRET = "test-secret-12chars"
SINK_PERMISSIONS = ["api:*:create", "api:*:update", "api:*:read"]
FAST_RETRY = RetryPolicy(base=0.005, cap=0.02, max_elapsed=10.0)
BASE_DATE_MS = 1_700_000_000_000
ENTRIES = Collection.ENTRIES

ClientFactory = Callable[..., NightscoutClient]


def entry(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "date": BASE_DATE_MS + n * 300_000,
        "utcOffset": 0,
        "app": "nightstream-tests",
        "device": "nightstream://test/0123456789ab",
        "type": "sgv",
        "sgv": 100 + n,
        "direction": "Flat",
        **fields,
    }


def ident(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"entry-{n}"))


@pytest.fixture
async def server() -> AsyncIterator[NightscoutTestServer]:
    async with NightscoutTestServer(api_secret=API_SECRET, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def token(server: NightscoutTestServer) -> str:
    return server.create_access_token("nightstream-sink", permissions=SINK_PERMISSIONS)


@pytest.fixture
async def make_client(server: NightscoutTestServer, token: str) -> AsyncIterator[ClientFactory]:
    clients: list[NightscoutClient] = []

    def make(**overrides: Any) -> NightscoutClient:
        settings: dict[str, Any] = {
            "name": "test-target",
            "base_url": server.url,
            "access_token": token,
            "request_timeout": 2.0,
            "retry": FAST_RETRY,
            **overrides,
        }
        client = NightscoutClient(NightscoutTargetConfig(**settings))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def stored(server: NightscoutTestServer, *, include_deleted: bool = False) -> list[dict[str, Any]]:
    return server.store.documents("entries", include_deleted=include_deleted)


async def test_put_creates_then_replaces_without_echoing_server_fields(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    first = await client.put(ENTRIES, ident(1), entry(1))
    assert first.status is WriteStatus.WRITTEN_CREATED
    assert first.http_status == 201
    assert isinstance(first.last_modified, int)

    # A document read back from Nightscout carries server fields; echoing them would be a 400.
    echoed = {**stored(server)[0], "sgv": 180, "subject": "someone-else", "srvModified": 1}
    second = await client.put(ENTRIES, ident(1), echoed)
    assert second.status is WriteStatus.WRITTEN_REPLACED
    assert second.http_status == 200

    documents = stored(server)
    assert len(documents) == 1
    assert documents[0]["identifier"] == ident(1)
    assert documents[0]["sgv"] == 180
    assert documents[0]["subject"] == "nightstream-sink"


async def test_put_after_user_deletion_is_not_resurrected(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    assert (await client.put(ENTRIES, ident(2), entry(2))).written
    deleter = server.issue_jwt(server.create_access_token("user", permissions=["api:*:delete"]))
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.delete(
            f"/api/v3/entries/{ident(2)}", headers={"Authorization": f"Bearer {deleter}"}
        )
        assert response.status_code == 200

    outcome = await client.put(ENTRIES, ident(2), entry(2, sgv=150))
    assert outcome.status is WriteStatus.DELETED_BY_USER
    assert outcome.http_status == 410
    assert stored(server) == []
    [kept] = stored(server, include_deleted=True)
    assert kept["isValid"] is False
    assert kept["sgv"] == 102


async def test_changing_an_immutable_field_is_rejected_with_the_servers_reason(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    assert (await client.put(ENTRIES, ident(3), entry(3))).written
    outcome = await client.put(ENTRIES, ident(3), entry(3, date=BASE_DATE_MS + 1))
    assert outcome.status is WriteStatus.REJECTED
    assert outcome.http_status == 400
    assert outcome.message == "Field date cannot be modified by the client"
    assert outcome.immutable_field == "date"

    invalid = await client.put(ENTRIES, ident(4), {**entry(4), "app": ""})
    assert invalid.status is WriteStatus.REJECTED
    assert invalid.message == "Bad or missing app field"


async def test_identifiers_v3_cannot_address_are_rejected_without_a_request(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    for bad in ("", "a.b", "a/b"):
        outcome = await client.put(ENTRIES, bad, entry(5))
        assert outcome.status is WriteStatus.REJECTED
        assert outcome.http_status is None
    nan = await client.put(ENTRIES, ident(5), entry(5, sgv=float("nan")))
    assert nan.status is WriteStatus.REJECTED
    assert server.stats.count(api="v3") == 0


async def test_missing_permission_is_fatal_and_names_it(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    reader = server.create_access_token("reader", roles=["readable"])
    client = make_client(access_token=reader)
    with pytest.raises(TargetFatalError) as caught:
        await client.put(ENTRIES, ident(6), entry(6))
    text = str(caught.value)
    assert "api:entries:create" in text
    assert "api:treatments:update" in text  # the recipe: create and update everywhere
    assert "Admin Tools" in text
    assert caught.value.target == "test-target"
    assert reader not in text
    assert stored(server) == []


async def test_unknown_token_is_fatal_without_showing_it(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    bogus = "nightstreams-0123456789abcdef"
    client = make_client(access_token=bogus)
    with pytest.raises(TargetFatalError) as caught:
        await client.put(ENTRIES, ident(7), entry(7))
    assert "invalid or revoked" in str(caught.value)
    assert "API_SECRET" in str(caught.value)
    assert bogus not in str(caught.value)
    assert bogus not in repr(caught.value)
    assert server.stats.count(api="v2") == 1  # never retried in a loop


async def test_expired_jwt_is_refreshed_once_and_the_write_retried() -> None:
    skew = [0.0]
    async with NightscoutTestServer(
        api_secret=API_SECRET, jwt_lifetime_seconds=3600, clock=lambda: time.time() + skew[0]
    ) as server:
        token = server.create_access_token("nightstream-sink", permissions=SINK_PERMISSIONS)
        config = NightscoutTargetConfig(
            name="t", base_url=server.url, access_token=token, retry=FAST_RETRY, max_concurrency=4
        )
        async with NightscoutClient(config) as client:
            assert (await client.put(ENTRIES, ident(8), entry(8))).written
            skew[0] = 2 * 3600.0  # the server's clock says our JWT expired; ours does not
            outcomes = await asyncio.gather(
                *(client.put(ENTRIES, ident(n), entry(n, sgv=99)) for n in range(8, 16))
            )
            assert all(outcome.written for outcome in outcomes)
        # Every write in flight with the old JWT got a 401, but one exchange served them all.
        assert 1 <= server.stats.count(api="v3", status=401) <= 4
        assert server.stats.count(api="v2", status=200) == 2


async def test_jwt_is_refreshed_before_it_expires() -> None:
    async with NightscoutTestServer(api_secret=API_SECRET, jwt_lifetime_seconds=1) as short:
        token = short.create_access_token("nightstream-sink", permissions=SINK_PERMISSIONS)
        config = NightscoutTargetConfig(
            name="t", base_url=short.url, access_token=token, retry=FAST_RETRY
        )
        async with NightscoutClient(config) as client:
            assert (await client.put(ENTRIES, ident(9), entry(9))).written
            await asyncio.sleep(1.1)
            assert (await client.put(ENTRIES, ident(10), entry(10))).written
        assert short.stats.count(api="v3", status=401) == 0
        assert short.stats.count(api="v2", status=200) == 2


async def test_revoked_subject_gets_one_refresh_then_a_fatal_error(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    assert (await client.put(ENTRIES, ident(11), entry(11))).written
    assert server.remove_subject("nightstream-sink")
    with pytest.raises(TargetFatalError, match="invalid or revoked"):
        await client.put(ENTRIES, ident(12), entry(12))
    assert server.stats.count(api="v3", status=403) == 1


async def test_every_document_is_stored_exactly_once_under_injected_errors(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    server.faults = Faults(error_rate=0.3, after_write_rate=0.5, seed=1)
    client = make_client(max_concurrency=4)
    outcomes = await asyncio.gather(*(client.put(ENTRIES, ident(n), entry(n)) for n in range(60)))
    assert all(outcome.written for outcome in outcomes)
    identifiers = [document["identifier"] for document in stored(server, include_deleted=True)]
    assert sorted(identifiers) == sorted(ident(n) for n in range(60))
    injected = server.stats.faults_injected
    assert injected["error:before"] > 0
    assert injected["error:after"] > 0
    assert server.stats.count(api="v3", status=503) > 0
    assert server.stats.count(api="v3", status=500) > 0
    assert client.busy_identifiers == 0


async def test_hanging_requests_time_out_and_are_retried(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    server.faults = Faults(hang_rate=0.3, hang_seconds=30.0, after_write_rate=0.5, seed=3)
    client = make_client(request_timeout=0.2, max_concurrency=4)
    started = time.monotonic()
    outcomes = await asyncio.gather(*(client.put(ENTRIES, ident(n), entry(n)) for n in range(12)))
    assert time.monotonic() - started < scaled(10)
    assert all(outcome.written for outcome in outcomes)
    assert server.store.count("entries", include_deleted=True) == 12
    assert (
        server.stats.faults_injected["hang:before"] + server.stats.faults_injected["hang:after"] > 0
    )


async def test_rate_limit_retry_after_is_honoured(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    await client.self_test()  # fetch the JWT before PUTs start failing
    server.faults = Faults(rate_limit_rate=1.0, retry_after_seconds=1, methods=("PUT",))
    started = time.monotonic()
    write = asyncio.create_task(client.put(ENTRIES, ident(13), entry(13)))
    await asyncio.sleep(0.3)
    server.faults = Faults()
    outcome = await write
    elapsed = time.monotonic() - started
    assert outcome.written
    assert elapsed >= 1.0  # the 5 ms backoff alone would have retried at once
    assert server.stats.count(method="PUT", status=429) == 1


async def test_retry_after_beyond_the_policy_limit_surfaces_as_retriable(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    server.faults = Faults(rate_limit_rate=1.0, retry_after_seconds=5, methods=("PUT",))
    client = make_client(retry=RetryPolicy(base=0.005, cap=0.02, max_elapsed=1.0))
    with pytest.raises(RetriableError) as caught:
        await client.put(ENTRIES, ident(14), entry(14))
    assert caught.value.retry_after == 5.0
    assert "HTTP 429" in str(caught.value)


async def test_plain_http_redirected_to_https_is_retried_with_one_clear_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with NightscoutTestServer(api_secret=API_SECRET, insecure_use_http=False) as server:
        token = server.create_access_token("nightstream-sink", permissions=SINK_PERMISSIONS)
        policy = RetryPolicy(base=0.005, cap=0.02, max_elapsed=0.3)
        config = NightscoutTargetConfig(
            name="t", base_url=server.url, access_token=token, retry=policy
        )
        async with NightscoutClient(config) as client:
            with pytest.raises(RetriableError, match="redirected") as caught:
                await client.put(ENTRIES, ident(15), entry(15))
        assert server.stats.count(status=307) > 3
    advice = [r for r in caplog.records if "redirects plain HTTP to HTTPS" in r.getMessage()]
    assert len(advice) == 1
    assert advice[0].levelno == logging.WARNING
    assert f"https://127.0.0.1:{server.port}" in advice[0].getMessage()
    assert "authorization/request/***" in caplog.text  # httpcore logged the Location header
    assert token not in caplog.text
    assert token not in str(caught.value)


class CountingProxy:
    """Forwards to the test server and records how many requests overlap."""

    def __init__(self, upstream: str) -> None:
        self._upstream = httpx.AsyncClient(base_url=upstream, timeout=scaled(5.0))
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.in_flight = 0
        self.max_in_flight = 0
        self._per_path: Counter[str] = Counter()
        self.max_per_path = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        await self._upstream.aclose()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        path = request.path_qs
        self.in_flight += 1
        self._per_path[path] += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.max_per_path = max(self.max_per_path, self._per_path[path])
        try:
            await asyncio.sleep(0.01)  # long enough for concurrent writes to overlap
            forwarded = {
                k: v
                for k, v in request.headers.items()
                if k.lower() in ("authorization", "content-type", "accept", "api-secret")
            }
            upstream = await self._upstream.request(
                request.method, path, content=await request.read(), headers=forwarded
            )
            return web.Response(
                status=upstream.status_code,
                body=upstream.content,
                content_type=upstream.headers.get("content-type", "text/plain").split(";")[0],
            )
        finally:
            self.in_flight -= 1
            self._per_path[path] -= 1


async def test_concurrency_is_bounded_and_one_identifier_is_never_written_twice_at_once(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    proxy = CountingProxy(server.url)
    await proxy.start()
    try:
        client = make_client(base_url=proxy.url, max_concurrency=3)
        # Four versions of each of ten documents, all submitted at once.
        writes = [
            client.put(ENTRIES, ident(n), entry(n, sgv=200 + version))
            for version in range(4)
            for n in range(10)
        ]
        outcomes = await asyncio.gather(*writes)
    finally:
        await proxy.stop()
    assert all(outcome.written for outcome in outcomes)
    assert proxy.max_in_flight == 3
    assert proxy.max_per_path == 1
    documents = stored(server)
    assert len(documents) == 10
    assert {document["sgv"] for document in documents} == {203}  # the last version won
    assert client.busy_identifiers == 0


async def test_self_test_summarises_access_and_reads(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    summary = await make_client().self_test()
    assert "subject nightstream-sink" in summary
    assert "JWT valid for 8 h 00 min" in summary
    assert "create and update granted" in summary
    for collection in Collection:
        assert f"{collection.value}: read OK" in summary

    partial = server.create_access_token(
        "careportal-only", permissions=["api:treatments:create", "api:treatments:update"]
    )
    with pytest.raises(TargetFatalError) as caught:
        await make_client(access_token=partial).self_test()
    assert "api:entries:create" in str(caught.value)
    assert "api:treatments:create" not in str(caught.value).split("Admin Tools")[0]


async def test_secrets_never_reach_logs_or_errors(
    server: NightscoutTestServer,
    make_client: ClientFactory,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(request_timeout=0.2)
    await client.self_test()
    server.faults = Faults(error_rate=0.3, hang_rate=0.1, seed=5)
    await asyncio.gather(*(client.put(ENTRIES, ident(n), entry(n)) for n in range(20)))
    server.faults = Faults()
    errors: list[Exception] = []
    server.remove_subject("nightstream-sink")
    with pytest.raises(TargetFatalError) as revoked:
        await client.put(ENTRIES, ident(30), entry(30))
    errors.append(revoked.value)
    limited = make_client(retry=RetryPolicy(base=0.005, cap=0.01, max_elapsed=0.1))
    await server.stop()
    with pytest.raises(RetriableError) as unreachable:
        await limited.put(ENTRIES, ident(31), entry(31))
    errors.append(unreachable.value)

    assert "request=<Request [b'PUT']>" in caplog.text  # httpcore did log the writes
    assert "request=<Request [b'GET']>" in caplog.text  # and the JWT exchange
    assert "failed" in caplog.text  # and so did the client's retries
    for text in [caplog.text, *map(str, errors), *map(repr, errors)]:
        assert token not in text
        assert "Bearer" not in text
        assert "eyJ" not in text  # every JWT starts with the base64 of '{"'


async def test_a_base_url_that_is_not_nightscout_is_fatal(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client(base_url=f"{server.url}/not-nightscout")
    with pytest.raises(TargetFatalError, match="base_url") as caught:
        await client.put(ENTRIES, ident(40), entry(40))
    assert "404" in str(caught.value)

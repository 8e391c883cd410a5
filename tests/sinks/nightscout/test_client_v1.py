"""The Nightscout client in API v1 batch mode, against the project's test server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.documents import Collection
from nightstream.schemas.errors import TargetFatalError
from nightstream.simulators.nightscout import Faults, NightscoutTestServer
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.outcomes import WriteStatus

API_SECRET = "test-secret-12chars"
BASE_DATE_MS = 1_700_000_000_000

ClientFactory = Callable[..., NightscoutClient]


def entry(n: int) -> dict[str, Any]:
    date_ms = BASE_DATE_MS + n * 300_000
    return {
        "date": date_ms,
        "dateString": datetime.fromtimestamp(date_ms / 1000, UTC).isoformat(),
        "device": "nightstream://test/0123456789ab",
        "type": "sgv",
        "sgv": 100 + n,
    }


def devicestatus(n: int, padding: int = 0) -> dict[str, Any]:
    return {
        "created_at": f"2023-11-14T22:{n // 60:02d}:{n % 60:02d}.000Z",
        "device": "nightstream://test/0123456789ab",
        "uploader": {"battery": 50},
        "notes": "x" * padding,
    }


@pytest.fixture
async def server() -> AsyncIterator[NightscoutTestServer]:
    async with NightscoutTestServer(api_secret=API_SECRET, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
async def make_client(server: NightscoutTestServer) -> AsyncIterator[ClientFactory]:
    clients: list[NightscoutClient] = []

    def make(**overrides: Any) -> NightscoutClient:
        settings: dict[str, Any] = {
            "name": "v1-target",
            "base_url": server.url,
            "api_version": "v1",
            "api_secret": API_SECRET,
            "retry": RetryPolicy(base=0.005, cap=0.02, max_elapsed=10.0),
            **overrides,
        }
        client = NightscoutClient(NightscoutTargetConfig(**settings))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def test_batch_is_posted_once_and_resending_it_does_not_duplicate(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    documents = [entry(n) for n in range(5)]
    outcomes = await client.post_v1_batch(Collection.ENTRIES, documents)
    assert [o.status for o in outcomes] == [WriteStatus.WRITTEN_V1] * 5
    assert server.stats.count(api="v1", method="POST") == 1
    await client.post_v1_batch(Collection.ENTRIES, documents)
    assert server.store.count("entries") == 5


async def test_devicestatus_batches_are_split_under_one_megabyte(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    documents = [devicestatus(n, padding=100_000) for n in range(30)]
    documents.append(devicestatus(59, padding=1_100_000))
    outcomes = await client.post_v1_batch(Collection.DEVICESTATUS, documents)
    assert all(o.status is WriteStatus.WRITTEN_V1 for o in outcomes[:30])
    assert outcomes[30].status is WriteStatus.REJECTED
    assert outcomes[30].http_status is None
    assert server.store.count("devicestatus") == 30
    assert server.stats.count(api="v1", method="POST", status=200) >= 3
    assert server.stats.count(api="v1", status=413) == 0


async def test_a_rejected_batch_is_split_to_find_the_bad_document(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    client = make_client()
    documents = [devicestatus(n) for n in range(5)]
    documents[3]["_id"] = "not-an-object-id"
    outcomes = await client.post_v1_batch(Collection.DEVICESTATUS, documents)
    statuses = [o.status for o in outcomes]
    assert statuses == [WriteStatus.WRITTEN_V1] * 3 + [WriteStatus.REJECTED, WriteStatus.WRITTEN_V1]
    assert outcomes[3].message is not None
    assert "Invalid _id format" in outcomes[3].message
    assert server.store.count("devicestatus") == 4


async def test_batches_survive_injected_faults(
    server: NightscoutTestServer, make_client: ClientFactory
) -> None:
    server.faults = Faults(error_rate=0.4, after_write_rate=0.5, seed=4)
    client = make_client()
    for start in range(0, 40, 8):
        outcomes = await client.post_v1_batch(
            Collection.ENTRIES, [entry(n) for n in range(start, start + 8)]
        )
        assert all(o.written for o in outcomes)
    assert server.store.count("entries") == 40
    assert sum(server.stats.faults_injected.values()) > 0


async def test_wrong_api_secret_is_fatal_without_showing_it(
    server: NightscoutTestServer, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-000000"
    client = make_client(api_secret=wrong)
    with pytest.raises(TargetFatalError, match="API secret") as caught:
        await client.post_v1_batch(Collection.ENTRIES, [entry(1)])
    with pytest.raises(TargetFatalError):
        await client.self_test()
    for text in (str(caught.value), caplog.text):
        assert wrong not in text
    assert server.store.count("entries") == 0


async def test_self_test_reads_every_collection(make_client: ClientFactory) -> None:
    client = make_client()
    await client.post_v1_batch(Collection.ENTRIES, [entry(1)])
    summary = await client.self_test()
    assert "(API v1)" in summary
    assert "entries: read OK" in summary
    assert "devicestatus: read OK" in summary


async def test_v3_only_methods_refuse_a_v1_target(make_client: ClientFactory) -> None:
    with pytest.raises(RuntimeError, match="v1"):
        await make_client().put(Collection.ENTRIES, "abc", entry(1))

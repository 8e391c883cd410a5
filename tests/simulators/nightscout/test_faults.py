"""Fault injection: deterministic errors, hangs and 429s, before or after the write."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from nightstream.simulators.nightscout import Faults, NightscoutTestServer
from nightstream.simulators.nightscout.faults import FaultInjector
from tests.simulators.nightscout.support import API_SECRET, Caller, entry
from tests.timing import scaled


def decisions(faults: Faults, count: int, method: str = "PUT") -> list[str | None]:
    injector = FaultInjector(faults)
    return [decision.label if (decision := injector.decide(method)) else None for _ in range(count)]


def test_same_seed_same_decisions_and_rates_are_respected() -> None:
    faults = Faults(error_rate=0.3, hang_rate=0.1, after_write_rate=0.5, seed=7)
    first = decisions(faults, 2000)
    assert first == decisions(faults, 2000)
    assert first != decisions(
        Faults(error_rate=0.3, hang_rate=0.1, after_write_rate=0.5, seed=8), 2000
    )
    errors = sum(1 for label in first if label and label.startswith("error"))
    hangs = sum(1 for label in first if label and label.startswith("hang"))
    after = sum(1 for label in first if label and label.endswith("after"))
    assert 500 <= errors <= 700
    assert 140 <= hangs <= 260
    assert 0.4 <= after / (errors + hangs) <= 0.6


def test_reads_are_never_faulted_after_the_write() -> None:
    labels = decisions(Faults(error_rate=1.0, after_write_rate=1.0, seed=1), 50, method="GET")
    assert set(labels) == {"error:before"}


@pytest.mark.parametrize(
    "settings",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "hang_rate": 0.6},
        {"error_statuses": ()},
        {"hang_seconds": -1.0},
    ],
)
def test_invalid_fault_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        Faults(**settings)  # type: ignore[arg-type]


async def statuses(client: httpx.AsyncClient, count: int) -> list[int]:
    return [(await client.get("/api/v3/version")).status_code for _ in range(count)]


async def test_sequential_requests_see_the_same_faults_for_the_same_seed(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    server.faults = Faults(error_rate=0.3, seed=1)
    first = await statuses(client, 40)
    server.faults = Faults(error_rate=0.3, seed=1)  # assigning restarts the random stream
    assert await statuses(client, 40) == first
    assert {500, 503} <= set(first)
    assert 200 in first


async def test_error_before_the_write_stores_nothing(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    server.faults = Faults(error_rate=1.0, error_statuses=(503,), seed=1)
    response = await uploader.put("entries", "x", entry())
    assert response.status_code == 503
    assert server.store.documents("entries") == []
    assert server.stats.faults_injected["error:before"] == 1


async def test_error_after_the_write_stores_the_document(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    server.faults = Faults(error_rate=1.0, error_statuses=(500,), after_write_rate=1.0, seed=1)
    response = await uploader.put("entries", "x", entry())
    assert response.status_code == 500
    assert response.json() == {"status": 500, "message": "Internal Server Error"}
    assert len(server.store.documents("entries")) == 1
    server.faults = Faults()
    retry = await uploader.put("entries", "x", entry())
    assert retry.status_code == 200  # the retry replaces; still one document
    assert len(server.store.documents("entries")) == 1


async def test_rate_limit_answers_429_with_retry_after(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    server.faults = Faults(rate_limit_rate=1.0, retry_after_seconds=7, seed=1)
    response = await uploader.put("entries", "x", entry())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert server.store.documents("entries") == []


async def test_hang_until_the_client_gives_up(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    for after_write, stored in ((False, 0), (True, 1)):
        server.faults = Faults(
            hang_rate=1.0, hang_seconds=None, after_write_rate=float(after_write), seed=1
        )
        with pytest.raises(httpx.ReadTimeout):
            await uploader.client.put(
                f"/api/v3/entries/hang-{after_write}",
                json=entry(),
                headers=uploader.headers(),
                timeout=0.3,
            )
        assert len(server.store.documents("entries")) == stored
    await asyncio.sleep(0.15)  # the server notices the hang-ups within 50 ms
    assert server.stats.count(method="PUT", status=0) == 2  # answered to nobody


async def test_bounded_hang_then_504_or_the_real_answer(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    server.faults = Faults(hang_rate=1.0, hang_seconds=0.2, seed=1)
    started = time.monotonic()
    before = await uploader.put("entries", "slow", entry())
    assert before.status_code == 504
    assert time.monotonic() - started >= 0.2
    server.faults = Faults(hang_rate=1.0, hang_seconds=0.2, after_write_rate=1.0, seed=1)
    after = await uploader.put("entries", "slow", entry())
    assert after.status_code == 201


async def test_faults_can_be_limited_to_some_methods(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    server.faults = Faults(error_rate=1.0, methods=("PUT",), seed=1)
    assert (await uploader.get("entries")).status_code == 200
    assert (await uploader.put("entries", "x", entry())).status_code in (500, 503)


async def test_stop_releases_a_request_hanging_forever() -> None:
    server = NightscoutTestServer(api_secret=API_SECRET)
    await server.start()
    server.faults = Faults(hang_rate=1.0, hang_seconds=None, seed=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=scaled(10)) as client:
        pending = asyncio.create_task(client.get("/api/v3/version"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < scaled(2.0)
        try:
            response = await pending
        except httpx.HTTPError:
            return  # the connection was closed: the client can tell it got no answer
        assert response.status_code == 504


async def test_admin_endpoint_sets_reads_and_clears_faults(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    guard = {"api-secret": server.api_secret_hash}
    settings = {"error_rate": 0.5, "methods": ["put"], "seed": 3}
    assert (await client.post("/__testserver/faults", json=settings)).status_code == 401
    response = await client.post("/__testserver/faults", json=settings, headers=guard)
    assert response.status_code == 200
    assert server.faults == Faults(error_rate=0.5, methods=("PUT",), seed=3)
    assert (await client.get("/__testserver/faults", headers=guard)).json()["error_rate"] == 0.5
    unknown = await client.post("/__testserver/faults", json={"typo": 1}, headers=guard)
    assert unknown.status_code == 400
    await client.delete("/__testserver/faults", headers=guard)
    assert server.faults == Faults()

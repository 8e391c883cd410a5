"""Stopping and deadlines in the Nightscout client: a stopping process never waits out a
retry loop, a healthy target's writes still finish, and retry warnings come once per state."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.documents import Collection
from nightstream.simulators.nightscout import Faults, NightscoutTestServer
from nightstream.sinks.nightscout.client import (
    NightscoutClient,
    NightscoutTargetConfig,
    WriteStopped,
)
from nightstream.sinks.nightscout.target_health import TargetHealth
from tests.timing import scaled

API_SECRET = "test-secret-12chars"
PERMISSIONS = ["api:*:create", "api:*:update", "api:*:read"]
SLOW_RETRY = RetryPolicy(base=30.0, cap=30.0)
ENTRIES = Collection.ENTRIES


def _entry(n: int) -> tuple[str, dict[str, Any]]:
    identifier = str(uuid.uuid5(uuid.NAMESPACE_URL, f"stop-{n}"))
    document = {
        "date": 1_700_000_000_000 + n * 300_000,
        "utcOffset": 0,
        "app": "nightstream-tests",
        "device": "nightstream://test/0123456789ab",
        "type": "sgv",
        "sgv": 100 + n,
    }
    return identifier, document


@pytest.fixture
async def server() -> AsyncIterator[NightscoutTestServer]:
    async with NightscoutTestServer(api_secret=API_SECRET, host="127.0.0.1", port=0) as running:
        yield running


def _client(
    server: NightscoutTestServer, stop: asyncio.Event, **overrides: Any
) -> NightscoutClient:
    settings: dict[str, Any] = {
        "name": "ns",
        "base_url": server.url,
        "access_token": server.create_access_token("sink", permissions=PERMISSIONS),
        "request_timeout": 60.0,
        "retry": SLOW_RETRY,
        "stop_drain_seconds": 0.5,
        **overrides,
    }
    return NightscoutClient(NightscoutTargetConfig(**settings), stop)


def _puts(client: NightscoutClient, count: int) -> list[asyncio.Task[Any]]:
    return [asyncio.create_task(client.put(ENTRIES, *_entry(n))) for n in range(count)]


async def _outcomes_after_stop(
    stop: asyncio.Event, writes: list[asyncio.Task[Any]]
) -> tuple[list[Any], float]:
    await asyncio.sleep(0.5)  # every write is on the wire or pausing before its next attempt
    stop.set()
    started = time.monotonic()
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    return outcomes, time.monotonic() - started


async def test_a_hanging_target_is_given_up_after_the_drain(server: NightscoutTestServer) -> None:
    stop = asyncio.Event()
    async with _client(server, stop) as client:
        await client.self_test()
        server.faults = Faults(hang_rate=1.0, hang_seconds=None, methods=("PUT",))
        outcomes, took = await _outcomes_after_stop(stop, _puts(client, 8))
        assert all(isinstance(o, WriteStopped) for o in outcomes), outcomes
        assert took < 0.5 + scaled(1.0)
        assert client.busy_identifiers == 0
        assert client.writes_waiting == 0


async def test_an_unreachable_target_stops_retrying_at_once(server: NightscoutTestServer) -> None:
    stop = asyncio.Event()
    async with _client(server, stop) as client:
        await client.self_test()
        await server.stop()
        outcomes, took = await _outcomes_after_stop(stop, _puts(client, 8))
        assert all(isinstance(o, WriteStopped) for o in outcomes), outcomes
        assert took < scaled(1.0)  # the 30 s backoff pause is not waited out


async def test_a_healthy_target_still_answers_the_writes_in_hand(
    server: NightscoutTestServer,
) -> None:
    stop = asyncio.Event()
    drain = scaled(2.0)
    async with _client(server, stop, stop_drain_seconds=drain) as client:
        await client.self_test()
        writes = _puts(client, 40)
        await asyncio.sleep(0)
        stop.set()
        outcomes = await asyncio.gather(*writes)
        assert all(outcome.written for outcome in outcomes)
        await asyncio.sleep(drain)
        with pytest.raises(WriteStopped):  # nothing new once the drain is over
            await client.put(ENTRIES, *_entry(99))
    assert server.store.count("entries") == 40


async def test_cancelling_a_write_ends_its_retry_loop_at_once(
    server: NightscoutTestServer,
) -> None:
    async with _client(server, asyncio.Event()) as client:
        await client.self_test()
        server.faults = Faults(error_rate=1.0, methods=("PUT",))
        write = asyncio.create_task(client.put(ENTRIES, *_entry(1)))
        await asyncio.sleep(0.3)  # now in its 30 s backoff
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(write, timeout=scaled(1.0))
        assert client.busy_identifiers == 0


async def test_each_attempt_has_a_deadline(server: NightscoutTestServer) -> None:
    stop = asyncio.Event()
    fast = RetryPolicy(base=0.01, cap=0.01, max_elapsed=scaled(3.0))
    async with _client(server, stop, request_timeout=0.3, retry=fast) as client:
        await client.self_test()
        # Hangs 1 s, longer than the deadline; the stored write is answered on a later try.
        server.faults = Faults(hang_rate=0.5, hang_seconds=1.0, seed=2, methods=("PUT",))
        outcomes = await asyncio.gather(*_puts(client, 6))
    assert all(outcome.written for outcome in outcomes)
    assert server.stats.faults_injected


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    health = TargetHealth("ns", announce_after=5.0, remind_every=300.0, clock=lambda: now[0])
    health.waiting = 37
    with caplog.at_level(logging.DEBUG):
        for step in range(1350):
            now[0] = step * 0.1  # 135 s of failing attempts
            health.failed("unreachable (ConnectError)")
        health.answered()
        # A blip: one failed attempt, answered on the next one, says nothing.
        health.failed("answering HTTP 503")
        health.answered()
    assert _warnings(caplog) == [
        "target ns: Nightscout unreachable (ConnectError), retrying; 37 writes waiting",
        "target ns: Nightscout reachable again after 135 s, 1,350 retries",
    ]


def test_a_long_outage_is_reminded_of_now_and_then(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    health = TargetHealth("ns", announce_after=5.0, remind_every=300.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for step in range(3601):
            now[0] = float(step)  # an hour, one attempt a second
            health.failed("not answering (ReadTimeout)")
    lines = _warnings(caplog)
    assert len(lines) == 1 + (3600 - 5) // 300  # announced after 5 s, then every 300 s
    assert lines[-1].startswith("target ns: Nightscout still not answering (ReadTimeout) after")

"""Trouble that is not Dexcom saying no: the poller may try again later."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator
from nightstream.sources.dexcomshare.servers import share_server
from tests.sources.dexcomshare.conftest import US_USER, share_client


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_without_a_dexcom_fault_are_retriable(
    sim: ShareSimulator, http: httpx.AsyncClient, status: int
) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(10, 1)
    sim.fail_next(1, status=status)

    with pytest.raises(RetriableError, match=f"HTTP {status}"):
        await client.read_glucose(10, 1)
    assert (await client.read_glucose(10, 1)).reading_count == 1
    assert sim.counters_for(US_USER).sessions_issued == 1


async def test_server_error_during_login_is_retriable_and_not_a_refusal(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    sim.fail_next(1, status=500)
    with pytest.raises(RetriableError):
        await client.read_glucose(10, 1)
    assert (await client.read_glucose(10, 1)).reading_count == 1


async def test_too_many_requests_carries_retry_after(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    sim.fail_next(1, status=429, retry_after=30)
    with pytest.raises(RetriableError) as raised:
        await share_client(sim.server("us"), http=http).read_glucose()
    assert raised.value.retry_after == 30.0


async def test_invalid_json_is_retriable(sim: ShareSimulator, http: httpx.AsyncClient) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(10, 1)
    sim.fail_next(1, status=200, body=b"<html>maintenance</html>")
    with pytest.raises(RetriableError, match="invalid JSON"):
        await client.read_glucose(10, 1)


async def test_timeout_is_retriable(sim: ShareSimulator, http: httpx.AsyncClient) -> None:
    sim.set_latency(1.0)
    client = share_client(sim.server("us"), http=http, timeout=0.1)
    with pytest.raises(RetriableError, match="timed out"):
        await client.read_glucose()


async def test_refused_connections_are_retriable_until_the_outage_ends(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(10, 1)
    await sim.go_down(10 * 60_000, mode="refuse")

    for _ in range(2):  # a kept-alive connection drops, a new one is refused
        with pytest.raises(RetriableError, match="unreachable"):
            await client.read_glucose(10, 1)

    clock.advance(10 * 60_000)
    for _ in range(100):
        try:
            answer = await client.read_glucose(10, 1)
            break
        except RetriableError:
            await asyncio.sleep(0.02)
    assert answer.reading_count == 1


async def test_unavailable_outage_is_retriable(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    await sim.go_down(60_000, mode="unavailable")
    with pytest.raises(RetriableError, match="HTTP 503"):
        await client.read_glucose(10, 1)
    clock.advance(60_000)
    assert (await client.read_glucose(10, 1)).reading_count == 1


async def test_unknown_path_is_a_setting_to_fix(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    wrong_base = share_server("us", f"{sim.url}/eu")
    with pytest.raises(LinkFatalError, match="HTTP 404"):
        await share_client(wrong_base, http=http).read_glucose()


async def test_unknown_dexcom_fault_on_read_is_retriable(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(10, 1)
    sim.reject_next_reads(1, "SomethingNew")
    with pytest.raises(RetriableError, match="SomethingNew"):
        await client.read_glucose(10, 1)

"""One session, reused; a new login only when Dexcom ends the session, and only once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from nightstream.schemas.errors import RetriableError
from nightstream.schemas.identity import stream_digest
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator
from nightstream.simulators.kit.glucose import DAY_MS, MINUTE_MS
from nightstream.sources.dexcomshare.client import DexcomShareClient
from tests.sources.dexcomshare.conftest import US_PASSWORD, US_USER, share_client


async def test_logs_in_once_and_reuses_the_session(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    for _ in range(3):
        answer = await client.read_glucose(60, 12)
        assert answer.status == 200
        clock.advance(5 * MINUTE_MS)

    seen = sim.counters_for(US_USER)
    assert (seen.authenticate_calls, seen.login_by_id_calls, seen.reads) == (1, 1, 3)
    assert answer.account_digest == stream_digest(sim.service.account(US_USER).account_id)


@pytest.mark.parametrize("forget", [False, True], ids=["SessionNotValid", "SessionIdNotFound"])
async def test_ended_session_means_one_new_login_and_one_retried_read(
    sim: ShareSimulator, http: httpx.AsyncClient, forget: bool
) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(30, 6)
    sim.expire_sessions(forget=forget)

    answer = await client.read_glucose(30, 6)

    assert answer.reading_count == 6
    seen = sim.counters_for(US_USER)
    # The account id is kept: only the second login step runs again.
    assert (seen.authenticate_calls, seen.login_by_id_calls, seen.sessions_issued) == (1, 2, 2)
    assert seen.reads == 2


async def test_session_times_out_after_a_simulated_day(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(10, 1)
    clock.advance(DAY_MS - MINUTE_MS)
    await client.read_glucose(10, 1)
    assert sim.counters_for(US_USER).sessions_issued == 1

    clock.advance(2 * MINUTE_MS)
    await client.read_glucose(10, 1)
    assert sim.counters_for(US_USER).sessions_issued == 2


async def test_session_rejected_again_after_relogin_is_retriable_not_a_loop(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(10, 1)
    sim.reject_next_reads(5, "SessionNotValid")

    with pytest.raises(RetriableError, match="just issued"):
        await client.read_glucose(10, 1)

    assert sim.counters_for(US_USER).login_by_id_calls == 2


async def test_fresh_session_rejected_is_retriable_without_a_second_login(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    sim.reject_next_reads(1, "SessionIdNotFound")
    client = share_client(sim.server("us"), http=http)

    with pytest.raises(RetriableError):
        await client.read_glucose(10, 1)

    assert sim.counters_for(US_USER).login_attempts == 2  # one login: both steps, once
    await client.read_glucose(10, 1)  # the next call logs in afresh and works
    assert sim.counters_for(US_USER).sessions_issued == 2


async def test_known_account_id_skips_the_first_login_step(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = DexcomShareClient(
        link_id="link-1",
        server=sim.server("us"),
        username=US_USER,
        password=US_PASSWORD,
        account_id=sim.service.account(US_USER).account_id,
        http=http,
    )
    await client.read_glucose(10, 1)
    seen = sim.counters_for(US_USER)
    assert (seen.authenticate_calls, seen.login_by_id_calls) == (0, 1)


async def test_concurrent_reads_share_one_login(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    answers = await asyncio.gather(*(client.read_glucose(10, 1) for _ in range(5)))
    assert len(answers) == 5
    assert sim.counters_for(US_USER).sessions_issued == 1


async def test_owned_http_client_is_closed_on_exit(sim: ShareSimulator) -> None:
    async with share_client(sim.server("us")) as client:
        await client.read_glucose(10, 1)
    assert client._http.is_closed

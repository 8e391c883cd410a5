"""Lockouts and throttles: the client waits them out and never logs in before they end."""

from __future__ import annotations

import httpx
import pytest

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.sources.simclock import ManualClock
from tests.sources.librelinkup.conftest import ADA, EU_EMAIL, LOCKOUT_S, llu_client


async def test_lockout_is_waited_out_with_no_login_in_between(
    sim: LluSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    sim.lock_account(EU_EMAIL)
    client = llu_client(sim, http=http, region="eu")
    with pytest.raises(RetriableError) as raised:
        await client.graph(ADA.patient_id)
    assert raised.value.retry_after == LOCKOUT_S
    assert client.login_not_before_ms == clock.now_ms() + LOCKOUT_S * 1000

    # However often it is called during the lockout, the client does not try again.
    for step_s in (0, 1, 60, LOCKOUT_S - 62):
        clock.advance(step_s * 1000)
        with pytest.raises(RetriableError) as again:
            await client.graph(ADA.patient_id)
        assert again.value.retry_after is not None
        assert 0 < again.value.retry_after <= LOCKOUT_S
    assert (await client.check_login()).outcome == "unreachable"
    seen = sim.counters_for(EU_EMAIL)
    assert (seen["logins"], seen["locked_answers"]) == (1, 1)

    clock.advance(1_000)  # exactly the announced lockout after the locked answer
    assert (await client.graph(ADA.patient_id)).reply.http_status == 200
    assert (seen["logins"], seen["locked_answers"], seen["tickets_issued"]) == (2, 1, 1)


async def test_check_login_during_a_lockout_gives_no_verdict_and_sends_nothing(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    sim.lock_account(EU_EMAIL)
    client = llu_client(sim, http=http, region="eu")
    first = await client.check_login()
    second = await client.check_login()
    assert (first.outcome, second.outcome) == ("unreachable", "unreachable")
    assert "throttled the login" in first.message
    assert "locked out for another 300 s" in second.message
    assert sim.counters_for(EU_EMAIL)["logins"] == 1


async def test_repeated_wrong_passwords_lock_the_account(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    policy = sim.service.options.lockout
    for attempt in range(policy.failures):
        guess = llu_client(sim, EU_EMAIL, f"guess-{attempt}", http=http, region="eu")
        with pytest.raises(LinkFatalError, match="status 2"):
            await guess.patients()
    right = llu_client(sim, http=http, region="eu")
    with pytest.raises(RetriableError, match="throttled the login") as raised:
        await right.patients()
    assert raised.value.retry_after == policy.lockout_ms / 1000
    seen = sim.counters_for(EU_EMAIL)
    assert (seen["logins"], seen["failed_logins"], seen["locked_answers"]) == (
        policy.failures + 1,
        3,
        1,
    )


async def test_http_429_on_login_closes_the_gate_for_retry_after(
    sim: LluSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    sim.fail_next(status=429, retry_after=42)
    client = llu_client(sim, http=http, region="eu")
    with pytest.raises(RetriableError) as raised:
        await client.patients()
    assert raised.value.retry_after == 42
    requests = sim.knobs.requests_total
    clock.advance(41_000)
    with pytest.raises(RetriableError, match="locked out for another 1 s"):
        await client.patients()
    assert sim.knobs.requests_total == requests
    clock.advance(1_000)
    assert len(await client.patients()) == 1


async def test_http_429_on_a_read_is_retriable_without_a_new_login(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    await client.graph(ADA.patient_id)
    sim.fail_next(status=429, retry_after=30)
    with pytest.raises(RetriableError) as raised:
        await client.graph(ADA.patient_id)
    assert raised.value.retry_after == 30
    assert (await client.graph(ADA.patient_id)).reply.http_status == 200
    assert sim.counters_for(EU_EMAIL)["logins"] == 1

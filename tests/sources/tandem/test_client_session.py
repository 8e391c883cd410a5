"""Tokens: reused while they live, replaced shortly before they expire or once when Tandem ends
them; throttling and server trouble are retriable; pump-log windows are at most 28 days."""

from __future__ import annotations

import json
from datetime import date

import pytest

from nightstream.schemas.errors import RetriableError
from nightstream.simulators.tandem import TandemSimulator
from nightstream.sources.simclock import ManualClock
from nightstream.sources.tandem.client import MIN_LOGIN_SPACING_MS
from tests.sources.tandem.conftest import US_EMAIL, tandem_client


async def test_the_token_is_reused_until_shortly_before_it_expires(
    sim: TandemSimulator, clock: ManualClock
) -> None:
    client = tandem_client(sim)
    for _ in range(3):
        await client.pumps()
        clock.advance(5 * 60_000)
    assert sim.counters_for(US_EMAIL)["logins"] == 1
    clock.advance(11 * 60_000)  # 26 min after the login: under 5 min left of 30
    await client.pumps()
    seen = sim.counters_for(US_EMAIL)
    assert (seen["logins"], seen["tokens_issued"], seen["pumper_calls"]) == (2, 2, 4)


async def test_a_token_ended_early_gets_one_new_login(
    sim: TandemSimulator, clock: ManualClock
) -> None:
    client = tandem_client(sim)
    await client.pumps()
    clock.advance(MIN_LOGIN_SPACING_MS)
    sim.expire_tokens()
    await client.pumps()
    seen = sim.counters_for(US_EMAIL)
    assert (seen["logins"], seen["pumper_calls"]) == (2, 2)


async def test_no_login_loop_when_tokens_keep_being_refused(sim: TandemSimulator) -> None:
    client = tandem_client(sim)
    await client.pumps()
    sim.expire_tokens()
    # Ended right after a login: the client waits instead of logging in again at once.
    with pytest.raises(RetriableError) as raised:
        await client.pumps()
    assert raised.value.retry_after is not None
    assert raised.value.retry_after > 0
    assert sim.counters_for(US_EMAIL)["logins"] == 1


async def test_throttling_and_server_errors_are_retriable(sim: TandemSimulator) -> None:
    client = tandem_client(sim)
    await client.pumps()
    sim.fail_next(1, status=429, retry_after=42)
    with pytest.raises(RetriableError) as throttled:
        await client.pumps()
    assert throttled.value.retry_after == 42
    sim.fail_next(1, status=502)
    with pytest.raises(RetriableError, match="HTTP 502"):
        await client.pumps()
    assert len(await client.pumps()) == 1
    assert sim.counters_for(US_EMAIL)["logins"] == 1


async def test_the_simulator_rate_limit_answers_429(sim: TandemSimulator) -> None:
    client = tandem_client(sim)
    limit = sim.service.options.data_requests_per_minute
    for _ in range(limit):
        await client.pumps()
    with pytest.raises(RetriableError) as raised:
        await client.pumps()
    assert raised.value.retry_after == 60
    assert sim.counters_for(US_EMAIL)["throttled"] == 1


async def test_pump_logs_of_one_window(sim: TandemSimulator) -> None:
    client = tandem_client(sim)
    pump = (await client.pumps())[0]
    answer = await client.pump_logs(pump, date(2026, 6, 1), date(2026, 6, 2))
    body = json.loads(answer.body)
    assert answer.status == 200
    assert (answer.start_day, answer.end_day) == (
        "2026-06-01",
        "2026-06-02",
    )
    days = {event["pumpDateTime"][:10] for event in body["events"]}
    assert days == {"2026-06-01", "2026-06-02"}
    assert {event["deviceAssignmentId"] for event in body["events"]} == {pump.assignment_id}
    numbers = [event["sequenceNumber"] for event in body["events"]]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    with pytest.raises(ValueError, match=r"1\.\.28 days"):
        await client.pump_logs(pump, date(2026, 5, 1), date(2026, 5, 29))

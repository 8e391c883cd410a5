"""Refused logins stop the link with one message and are never retried."""

from __future__ import annotations

import httpx
import pytest

from nightstream.schemas.errors import LinkFatalError
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator
from nightstream.sources.dexcomshare.servers import US_APPLICATION_ID, ShareServer
from tests.sources.dexcomshare.conftest import (
    JP_PASSWORD,
    JP_USER,
    LOCK_MS,
    MAX_FAILURES,
    NO_FOLLOWER_PASSWORD,
    NO_FOLLOWER_USER,
    NO_RECEIVER_PASSWORD,
    NO_RECEIVER_USER,
    OUS_PASSWORD,
    OUS_USER,
    US_PASSWORD,
    US_USER,
    share_client,
)


async def test_wrong_password_stops_after_exactly_one_attempt(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), US_USER, "not-the-password", http=http)

    with pytest.raises(LinkFatalError) as raised:
        await client.read_glucose()
    assert "wrong password, or an account of another region" in raised.value.user_message
    assert "CONNECT_SHARE_REGION (us / ous / jp)" in raised.value.user_message
    assert raised.value.link_id == "link-1"

    # The client stays stopped: later reads do not try the password again.
    for _ in range(3):
        with pytest.raises(LinkFatalError):
            await client.read_glucose()
    seen = sim.counters_for(US_USER)
    assert (seen.login_attempts, seen.failed_logins) == (1, 1)


@pytest.mark.parametrize(
    ("region", "username", "password"),
    [("ous", US_USER, US_PASSWORD), ("us", JP_USER, JP_PASSWORD), ("jp", OUS_USER, OUS_PASSWORD)],
)
async def test_account_of_another_region_looks_like_a_wrong_password(
    sim: ShareSimulator, http: httpx.AsyncClient, region: str, username: str, password: str
) -> None:
    client = share_client(sim.server(region), username, password, http=http)
    with pytest.raises(LinkFatalError, match="check CONNECT_SHARE_REGION"):
        await client.read_glucose()
    assert sim.counters_for(username).login_attempts == 1


@pytest.mark.parametrize(
    ("region", "username", "password"),
    [("us", US_USER, US_PASSWORD), ("ous", OUS_USER, OUS_PASSWORD), ("jp", JP_USER, JP_PASSWORD)],
)
async def test_each_region_serves_its_own_accounts(
    sim: ShareSimulator, http: httpx.AsyncClient, region: str, username: str, password: str
) -> None:
    answer = await share_client(sim.server(region), username, password, http=http).read_glucose()
    assert answer.region == region
    assert answer.reading_count == 288


async def test_japan_needs_its_own_application_id(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    us_id_at_japan = ShareServer("jp", sim.base_url("jp"), US_APPLICATION_ID)
    client = share_client(us_id_at_japan, JP_USER, JP_PASSWORD, http=http)
    with pytest.raises(LinkFatalError, match="InvalidArgument"):
        await client.read_glucose()
    assert sim.counters_for(JP_USER).login_attempts == 1


async def test_repeated_failures_lock_the_account_with_a_wait_message(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    for attempt in range(MAX_FAILURES):
        wrong = share_client(sim.server("us"), US_USER, f"guess-{attempt}", http=http)
        with pytest.raises(LinkFatalError, match="wrong password"):
            await wrong.read_glucose()

    right = share_client(sim.server("us"), http=http, link_id="ada-cgm")
    with pytest.raises(LinkFatalError) as raised:
        await right.read_glucose()
    message = raised.value.user_message
    assert message.startswith("account locked by Dexcom after too many failed logins")
    assert "wait (usually ~10 min or more) then run `nightstream check-login ada-cgm`" in message
    assert sim.counters_for(US_USER).login_attempts == MAX_FAILURES + 1

    clock.advance(LOCK_MS)
    answer = await share_client(sim.server("us"), http=http).read_glucose(10, 1)
    assert answer.reading_count == 1


async def test_account_locked_from_elsewhere_is_reported(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    sim.lock_account(US_USER)
    with pytest.raises(LinkFatalError, match="account locked by Dexcom"):
        await share_client(sim.server("us"), http=http).read_glucose()


async def test_share_without_receiver_explains_what_to_set_up(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), NO_RECEIVER_USER, NO_RECEIVER_PASSWORD, http=http)
    with pytest.raises(LinkFatalError) as raised:
        await client.read_glucose()
    message = raised.value.user_message
    assert "publisher's own account" in message
    assert "turn Share on" in message
    assert "at least one follower" in message


async def test_share_without_follower_answers_an_empty_array(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), NO_FOLLOWER_USER, NO_FOLLOWER_PASSWORD, http=http)
    answer = await client.read_glucose()
    assert (answer.reading_count, answer.body) == (0, b"[]")
    verdict = await client.check_login()
    assert verdict.outcome == "no_data"
    assert "at least one follower" in verdict.message


async def test_check_login_ok(sim: ShareSimulator, http: httpx.AsyncClient) -> None:
    verdict = await share_client(sim.server("us"), http=http).check_login()
    assert verdict.ok
    assert verdict.account_digest is not None
    assert sim.counters_for(US_USER).login_attempts == 2  # both steps, once


async def test_check_login_refused_tries_exactly_once(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), US_USER, "wrong", http=http)
    verdict = await client.check_login()
    assert verdict.outcome == "refused"
    assert "check CONNECT_SHARE_REGION" in verdict.message
    assert sim.counters_for(US_USER).login_attempts == 1


async def test_check_login_clears_a_stopped_client_once_fixed(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    sim.lock_account(US_USER)
    client = share_client(sim.server("us"), http=http)
    with pytest.raises(LinkFatalError):
        await client.read_glucose()
    sim.reset()  # lifts the lock

    assert (await client.check_login()).ok
    assert (await client.read_glucose(10, 1)).reading_count == 1


async def test_check_login_unreachable_gives_no_verdict(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    await sim.go_down(60_000, mode="refuse")
    verdict = await share_client(sim.server("us"), http=http).check_login()
    assert verdict.outcome == "unreachable"
    assert sim.counters_for(US_USER).login_attempts == 0

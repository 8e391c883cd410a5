"""Logins against the simulator: every step, each refusal with one message, never twice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.simulators.tandem import TandemSimulator
from nightstream.sources.tandem.client import TandemSourceClient, make_http_client
from nightstream.sources.tandem.pkce import Pkce, challenge_for
from nightstream.sources.tandem.protocol import EU_CLIENT_ID, US_CLIENT_ID, tandem_hosts
from tests.sources.tandem.conftest import (
    EU_EMAIL,
    EU_PASSWORD,
    NO_PUMP_EMAIL,
    NO_PUMP_PASSWORD,
    US_EMAIL,
    tandem_client,
)


async def refusal(client: TandemSourceClient) -> str:
    with pytest.raises(LinkFatalError) as raised:
        await client.pumps()
    return raised.value.user_message


def test_pkce_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_for(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    fresh = Pkce.new()
    assert len(fresh.verifier) == 86
    assert "=" not in fresh.verifier
    assert fresh.challenge == challenge_for(fresh.verifier)


def test_hosts_per_region_and_configurable_client_id() -> None:
    us, eu = tandem_hosts("us"), tandem_hosts("EU")
    assert us.login_url == "https://tdcservices.tandemdiabetes.com/accounts/api/login"
    assert eu.token_url == "https://tdcservices.eu.tandemdiabetes.com/accounts/api/connect/token"
    assert (us.client_id, eu.client_id) == (US_CLIENT_ID, EU_CLIENT_ID)
    assert eu.redirect_uri == "https://source.eu.tandemdiabetes.com/authorize/callback"
    assert us.origin == "https://source.tandemdiabetes.com"
    assert tandem_hosts("us", client_id="0oa27ho9tpZE9Arjy4h7").client_id == "0oa27ho9tpZE9Arjy4h7"
    with pytest.raises(ValueError, match="not a Tandem region"):
        tandem_hosts("jp")


async def test_us_and_eu_accounts_log_in_through_every_step(sim: TandemSimulator) -> None:
    for email, password, region, serial in (
        (US_EMAIL, "us-password-1", "us", "1100001"),
        (EU_EMAIL, EU_PASSWORD, "eu", "2200002"),
    ):
        client = tandem_client(sim, email, password, region)
        pumps = await client.pumps()
        await client.aclose()
        assert [p.serial for p in pumps] == [serial]
        seen = sim.counters_for(email)
        assert (seen["logins"], seen["tokens_issued"], seen["pumper_calls"]) == (1, 1, 1)


async def test_check_login_lists_the_pumps(sim: TandemSimulator) -> None:
    verdict = await tandem_client(sim).check_login()
    assert verdict.outcome == "ok"
    assert verdict.message.startswith("login ok (region us); 1 pump(s): t:slim X2 serial 1100001")
    assert "us-password-1" not in verdict.message


async def test_wrong_password_stops_with_one_message_and_no_second_login(
    sim: TandemSimulator,
) -> None:
    client = tandem_client(sim, password="wrong")
    message = await refusal(client)
    assert "rejected the e-mail or password" in message
    assert "nightstream check-login pump-1" in message
    assert await refusal(client) == message
    assert sim.counters_for(US_EMAIL)["logins"] == 1


async def test_an_eu_account_on_the_us_hosts_is_told_about_the_region(sim: TandemSimulator) -> None:
    message = await refusal(tandem_client(sim, EU_EMAIL, EU_PASSWORD, "us"))
    assert 'set region = "eu"' in message


async def test_mfa_and_consent_each_stop_the_link_with_what_to_do(sim: TandemSimulator) -> None:
    sim.set_account(US_EMAIL, mfa=True)
    assert "second factor (MFA)" in await refusal(tandem_client(sim))
    sim.set_account(US_EMAIL, mfa=False, consent=True)
    message = await refusal(tandem_client(sim))
    assert "consent_required" in message
    assert "source.tandemdiabetes.com" in message
    sim.set_account(US_EMAIL, consent=False)
    assert len(await tandem_client(sim).pumps()) == 1


async def test_an_outdated_client_id_is_fatal_and_names_the_setting(sim: TandemSimulator) -> None:
    hosts = replace(sim.hosts("us"), client_id="0oa27ho9tpZE9Arjy4h7")
    client = TandemSourceClient(
        link_id="pump-1", email=US_EMAIL, password="us-password-1", hosts=hosts, clock=sim.clock
    )
    message = await refusal(client)
    assert "client id 0oa27ho9tpZE9Arjy4h7" in message
    assert "client_id" in message


async def test_an_account_without_an_uploaded_pump(sim: TandemSimulator) -> None:
    verdict = await tandem_client(sim, NO_PUMP_EMAIL, NO_PUMP_PASSWORD).check_login()
    assert verdict.outcome == "no_data"
    assert "no pump that ever uploaded" in verdict.message


async def test_a_firewall_ban_is_waited_out_without_logging_in(sim: TandemSimulator) -> None:
    sim.ban(US_EMAIL)
    client = tandem_client(sim)
    with pytest.raises(RetriableError) as raised:
        await client.pumps()
    assert raised.value.retry_after is not None
    assert raised.value.retry_after >= 15 * 60
    with pytest.raises(RetriableError, match="waiting before the next Tandem login"):
        await client.pumps()
    assert sim.counters_for(US_EMAIL)["logins"] == 1


async def test_the_shared_http_client_keeps_no_tandem_cookie(sim: TandemSimulator) -> None:
    http = make_http_client()
    client = tandem_client(sim, http=http)
    assert len(await client.pumps()) == 1
    assert list(http.cookies.jar) == []
    other = tandem_client(sim, EU_EMAIL, EU_PASSWORD, "eu", http=http)
    assert [p.serial for p in await other.pumps()] == ["2200002"]
    await http.aclose()

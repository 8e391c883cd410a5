"""Logins: region redirects, refusals that stop the link with one message, the version gate."""

from __future__ import annotations

import httpx
import pytest

from nightstream.schemas.errors import LinkFatalError
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.simulators.librelinkup.accounts import StepType
from nightstream.sources.librelinkup.client import LibreLinkUpClient
from nightstream.sources.librelinkup.hosts import LluHosts
from tests.sources.librelinkup.conftest import (
    ADA,
    CN_EMAIL,
    CN_PASSWORD,
    EU_EMAIL,
    US_EMAIL,
    US_PASSWORD,
    llu_client,
)


async def refusal_of(client: LibreLinkUpClient) -> str:
    """The user message of the LinkFatalError that reading the graph raises."""
    with pytest.raises(LinkFatalError) as raised:
        await client.graph(ADA.patient_id)
    return raised.value.user_message


async def test_auto_region_follows_the_redirect_and_remembers_it(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http)
    answer = await client.graph(ADA.patient_id)
    assert (client.region, answer.region) == ("eu", "eu")
    seen = sim.counters_for(EU_EMAIL)
    assert (seen["logins"], seen["redirects"], seen["tickets_issued"]) == (2, 1, 1)
    assert sim.logins_by_host(EU_EMAIL) == {"global": 1, "eu": 1}

    # A later run that remembered the region logs in there at once.
    again = llu_client(sim, http=http)
    assert again.region is None
    again.adopt_region("eu")
    await again.graph(ADA.patient_id)
    assert (seen["logins"], seen["redirects"]) == (3, 1)
    assert sim.logins_by_host(EU_EMAIL) == {"global": 1, "eu": 2}


async def test_redirect_from_a_wrong_configured_region(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, US_EMAIL, US_PASSWORD, http=http, region="eu")
    await client.patients()
    assert client.region == "us"
    assert sim.counters_for(US_EMAIL)["redirects"] == 1


async def test_configured_region_wins_over_a_remembered_one(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    client.adopt_region("us")
    await client.patients()
    assert sim.counters_for(EU_EMAIL)["redirects"] == 0


async def test_a_fixed_server_url_cannot_follow_a_redirect(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    message = await refusal_of(llu_client(sim, http=http, hosts=LluHosts(sim.base_url("us"))))
    assert "lives in region 'eu'" in message
    assert "set region = 'eu' and remove server_url, or put {region} in it" in message


async def test_china_is_a_separate_world(sim: LluSimulator, http: httpx.AsyncClient) -> None:
    with pytest.raises(LinkFatalError, match="status 2"):
        await llu_client(sim, CN_EMAIL, CN_PASSWORD, http=http).patients()
    assert sim.counters_for(CN_EMAIL)["redirects"] == 0
    client = llu_client(sim, CN_EMAIL, CN_PASSWORD, http=http, region="cn")
    assert len(await client.patients()) == 1


async def test_bad_password_stops_after_exactly_one_login(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, EU_EMAIL, "not-the-password", http=http, region="eu")
    message = await refusal_of(client)
    assert "rejected the e-mail or password (status 2)" in message
    assert "not those of LibreView" in message
    assert "nightstream check-login link-1" in message

    for _ in range(3):
        with pytest.raises(LinkFatalError):
            await client.graph(ADA.patient_id)
    seen = sim.counters_for(EU_EMAIL)
    assert (seen["logins"], seen["failed_logins"]) == (1, 1)


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ("tou", "accept the new terms of use"),
        ("pp", "accept the new privacy policy"),
        ("verifyEmail", "verify the account's e-mail address"),
    ],
)
async def test_terms_step_tells_the_user_to_open_the_app(
    sim: LluSimulator, http: httpx.AsyncClient, step: StepType, words: str
) -> None:
    sim.require_step(EU_EMAIL, step)
    client = llu_client(sim, http=http)
    message = await refusal_of(client)
    assert f"wants the user to {words}" in message
    assert "open the LibreLinkUp app, sign in with this account and accept" in message
    with pytest.raises(LinkFatalError):
        await client.graph(ADA.patient_id)
    assert sim.counters_for(EU_EMAIL)["step_answers"] == 1


async def test_check_login_clears_a_stopped_client_once_the_terms_are_accepted(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    sim.require_step(EU_EMAIL, "tou")
    client = llu_client(sim, http=http)
    with pytest.raises(LinkFatalError):
        await client.graph(ADA.patient_id)
    verdict = await client.check_login()
    assert verdict.outcome == "refused"
    assert "terms of use" in verdict.message

    sim.require_step(EU_EMAIL, None)
    assert (await client.check_login()).ok
    assert (await client.graph(ADA.patient_id)).reply.http_status == 200


async def test_version_refusal_names_the_minimum_and_the_setting(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    sim.set_minimum_version("4.17.0")
    client = llu_client(sim, http=http, region="eu")
    message = await refusal_of(client)
    assert "refuses app version 4.16.0 and asks for at least 4.17.0 (status 920)" in message
    assert 'set llu_version = "4.17.0" for this link' in message
    assert "CONNECT_LINK_UP_VERSION=4.17.0" in message

    newer = llu_client(sim, http=http, region="eu", version="4.17.0")
    assert (await newer.graph(ADA.patient_id)).reply.http_status == 200


async def test_version_raised_while_logged_in_stops_the_link(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    await client.graph(ADA.patient_id)
    sim.set_minimum_version("5.0.0")
    with pytest.raises(LinkFatalError, match=r"at least 5\.0\.0"):
        await client.graph(ADA.patient_id)
    assert sim.counters_for(EU_EMAIL)["logins"] == 1


async def test_unknown_patient_id_stops_the_link(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    with pytest.raises(LinkFatalError, match="couldNotLoadPatient"):
        await client.graph("00000000-0000-4000-8000-000000000000")
    user_id = sim.service.account(EU_EMAIL).user_id
    with pytest.raises(LinkFatalError, match="that is a user id, not a patientId"):
        await client.graph(user_id)

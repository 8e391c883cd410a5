"""Follower accounts: which patient a link follows, and the check-login verdict that lists them."""

from __future__ import annotations

import httpx
import pytest

from nightstream.schemas.errors import LinkFatalError
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.sources.librelinkup.patients import Patient, choose_patient, read_patients
from nightstream.sources.librelinkup.poll_source import LibreLinkUpPollSource
from tests.sources.librelinkup.conftest import (
    ADA,
    EU_EMAIL,
    FAMILY_EMAIL,
    FAMILY_PASSWORD,
    KIM,
    LEE,
    NOBODY_EMAIL,
    NOBODY_PASSWORD,
    llu_client,
)


def family_source(
    sim: LluSimulator, http: httpx.AsyncClient, patient_id: str | None = None
) -> LibreLinkUpPollSource:
    client = llu_client(sim, FAMILY_EMAIL, FAMILY_PASSWORD, http=http, link_id="family")
    return LibreLinkUpPollSource(client, patient_id=patient_id)


async def test_several_patients_and_none_configured_stops_with_a_count(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    with pytest.raises(LinkFatalError) as raised:
        await family_source(sim, http).fetch(None, sim.clock.now_ms())
    message = raised.value.user_message
    assert "follows 2 patients: set patient_id for this link" in message
    assert "run `nightstream check-login family` to list them" in message


async def test_the_configured_patient_is_followed(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    source = family_source(sim, http, patient_id=LEE.patient_id.upper())
    (payload,) = (await source.fetch(None, sim.clock.now_ms())).payloads
    assert LEE.patient_id in payload.body.decode()
    assert sim.counters_for(FAMILY_EMAIL)["connections_calls"] == 0


async def test_check_login_lists_the_patients_by_id_and_initial(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    verdict = await family_source(sim, http).check_login()
    assert verdict.outcome == "refused"
    assert verdict.patients == (Patient(KIM.patient_id, "K"), Patient(LEE.patient_id, "L"))
    assert f"{KIM.patient_id} (K.), {LEE.patient_id} (L.)" in verdict.message
    assert "set patient_id" in verdict.message
    assert "Example" not in verdict.message  # last names stay out

    chosen = await family_source(sim, http, patient_id=KIM.patient_id).check_login()
    assert chosen.ok
    assert chosen.message.endswith(f"this link follows {KIM.patient_id} (K.)")


async def test_single_patient_is_used_when_none_is_configured(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    source = LibreLinkUpPollSource(llu_client(sim, http=http))
    for _ in range(3):
        (payload,) = (await source.fetch(None, sim.clock.now_ms())).payloads
        assert ADA.patient_id in payload.body.decode()
    assert sim.counters_for(EU_EMAIL)["connections_calls"] == 1  # read once, not per poll


async def test_an_account_following_nobody(sim: LluSimulator, http: httpx.AsyncClient) -> None:
    client = llu_client(sim, NOBODY_EMAIL, NOBODY_PASSWORD, http=http)
    verdict = await LibreLinkUpPollSource(client).check_login()
    assert verdict.outcome == "no_data"
    assert "accept the patient's invitation in the LibreLinkUp app" in verdict.message
    with pytest.raises(LinkFatalError, match="follows nobody"):
        await LibreLinkUpPollSource(client).fetch(None, sim.clock.now_ms())


def test_reading_and_choosing_patients() -> None:
    data = [
        {"patientId": "p-1", "firstName": "émile"},
        {"patientId": " p-2 ", "firstName": ""},
        {"patientId": 3},
        "junk",
    ]
    patients = read_patients(data)
    assert patients == [Patient("p-1", "É"), Patient("p-2", "?")]
    assert read_patients({"not": "a list"}) == []
    assert choose_patient("l", patients, "P-2") == patients[1]
    with pytest.raises(LinkFatalError, match="not among the 2 patients"):
        choose_patient("l", patients, "p-3")
    assert choose_patient("l", patients[:1], None) == patients[0]

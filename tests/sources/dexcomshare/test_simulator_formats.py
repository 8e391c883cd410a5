"""The simulator speaks Share's wire formats: both date wrappers, both trend forms, faults."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from nightstream.simulators.dexcomshare import ShareSimulator
from nightstream.simulators.dexcomshare.formats import MALFORMED_KINDS, TREND_NAMES, MalformedKind
from nightstream.sources.dexcomshare.faults import ZERO_UUID
from nightstream.sources.dexcomshare.servers import (
    LOGIN_BY_NAME_RETIRED,
    READ_GLUCOSE,
    US_APPLICATION_ID,
)
from tests.sources.dexcomshare.conftest import (
    JP_PASSWORD,
    JP_USER,
    OLD_PASSWORD,
    OLD_USER,
    US_USER,
    share_client,
)

CURRENT_DATE = re.compile(r"^Date\((\d+)\)$")
CURRENT_DISPLAY_DATE = re.compile(r"^Date\((\d+)([+-]\d{4})\)$")
SLASHED_DATE = re.compile(r"^/Date\((\d+)\)/$")
SLASHED_DISPLAY_DATE = re.compile(r"^/Date\((\d+)([+-]\d{4})\)/$")


async def read_objects(
    sim: ShareSimulator, http: httpx.AsyncClient, region: str, username: str, password: str
) -> list[dict[str, object]]:
    answer = await share_client(sim.server(region), username, password, http=http).read_glucose()
    readings = json.loads(answer.body)
    assert isinstance(readings, list)
    return readings


async def test_current_format_dates_and_string_trends(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    readings = await read_objects(sim, http, "jp", JP_USER, JP_PASSWORD)
    assert list(readings[0]) == ["WT", "ST", "DT", "Value", "Trend"]
    for reading in readings:
        wall = CURRENT_DATE.match(str(reading["WT"]))
        display = CURRENT_DISPLAY_DATE.match(str(reading["DT"]))
        assert wall
        assert display
        assert CURRENT_DATE.match(str(reading["ST"]))
        assert display.group(1) == wall.group(1)
        assert display.group(2) == "+0900"
        assert reading["Trend"] in TREND_NAMES
        assert isinstance(reading["Value"], int)
        assert 40 <= reading["Value"] <= 400


async def test_older_format_slashed_dates_and_integer_trends(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    readings = await read_objects(sim, http, "us", OLD_USER, OLD_PASSWORD)
    for reading in readings:
        assert SLASHED_DATE.match(str(reading["WT"]))
        display = SLASHED_DISPLAY_DATE.match(str(reading["DT"]))
        assert display
        assert display.group(2) == "-0530"
        trend = reading["Trend"]
        assert isinstance(trend, int)
        assert 1 <= trend <= 7


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_reading_is_injected_once(
    sim: ShareSimulator, http: httpx.AsyncClient, kind: MalformedKind
) -> None:
    sim.inject_malformed_reading(US_USER, kind=kind)
    client = share_client(sim.server("us"), http=http)

    spoiled = json.loads((await client.read_glucose(30, 6)).body)
    clean = json.loads((await client.read_glucose(30, 6)).body)

    assert len(spoiled) == 7
    assert len(clean) == 6
    bad = spoiled[1]
    if kind == "bad_date":
        assert bad["WT"] == "Date(soon)"
    elif kind == "missing_value":
        assert "Value" not in bad
    else:
        assert not isinstance(bad, dict)
    assert spoiled[:1] + spoiled[2:] == clean


async def test_faults_are_http_500_with_a_fault_exception_body(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{sim.base_url('us')}/ShareWebServices/Services/General/AuthenticatePublisherAccount",
        json={"accountName": US_USER, "password": "no", "applicationId": US_APPLICATION_ID},
    )
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"Code", "Message", "SubCode", "TypeName"}
    assert body["Code"] == "AccountPasswordInvalid"
    assert body["TypeName"] == "FaultException"
    assert 'ErrorCode="AccountPasswordInvalid"' in body["SubCode"]


@pytest.mark.parametrize(
    ("session", "status", "code"),
    [
        ("11111111-2222-3333-4444-555555555555", 500, "SessionIdNotFound"),
        (ZERO_UUID, 200, None),
    ],
)
async def test_reads_without_a_real_session(
    sim: ShareSimulator, http: httpx.AsyncClient, session: str, status: int, code: str | None
) -> None:
    response = await http.post(
        f"{sim.url}/ShareWebServices/Services/{READ_GLUCOSE}",
        params={"sessionID": session, "minutes": "10", "maxCount": "1"},
        json={},
    )
    assert response.status_code == status
    if code is None:
        assert response.content == b""  # Share's non-JSON answer to the all-zeros session
    else:
        assert response.json()["Code"] == code


async def test_retired_single_step_login_answers_the_zero_uuid(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{sim.url}/ShareWebServices/Services/{LOGIN_BY_NAME_RETIRED}",
        json={"accountName": US_USER, "password": "x", "applicationId": US_APPLICATION_ID},
    )
    assert response.json() == ZERO_UUID


async def test_unknown_endpoint_is_404(sim: ShareSimulator, http: httpx.AsyncClient) -> None:
    response = await http.post(f"{sim.url}/ShareWebServices/Services/General/Nope", json={})
    assert response.status_code == 404

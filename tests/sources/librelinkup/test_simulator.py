"""The simulator behaves as the reference describes LibreLinkUp: data shape, timing, gates."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from nightstream.schemas.errors import RetriableError
from nightstream.simulators.librelinkup import LluSimulator, SimPatient, generate_accounts
from nightstream.simulators.librelinkup.feed import PatientFeed
from nightstream.simulators.librelinkup.formats import llu_time
from nightstream.sources.librelinkup.protocol import account_id_header
from nightstream.sources.simclock import ManualClock
from tests.sources.librelinkup.conftest import ADA, EU_EMAIL, KIM, START_MS, llu_client

MINUTE_MS = 60_000


def parse(text: str) -> int:
    moment = datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


async def graph_data(sim: LluSimulator, http: httpx.AsyncClient, patient_id: str) -> Any:
    """The ``data`` of a graph answer for ``patient_id``, fetched by the account following it."""
    account = next(a for a in sim.service.accounts if a.patient(patient_id) is not None)
    client = llu_client(sim, account.email, account.password, http=http)
    return json.loads((await client.graph(patient_id)).reply.body)["data"]


def test_llu_time_format() -> None:
    assert llu_time(1_733_065_200_000) == "12/1/2024 3:00:00 PM"
    assert llu_time(1_733_011_205_999) == "12/1/2024 12:00:05 AM"


async def test_history_spans_12_h_on_a_5_min_grid_and_lags(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    data = await graph_data(sim, http, ADA.patient_id)
    times = [parse(point["FactoryTimestamp"]) for point in data["graphData"]]
    assert times == sorted(times)
    assert {b - a for a, b in itertools.pairwise(times)} == {5 * MINUTE_MS}
    assert 11.9 * 60 * MINUTE_MS <= START_MS - times[0] <= 12 * 60 * MINUTE_MS
    assert 15 * MINUTE_MS <= START_MS - times[-1] <= 25 * MINUTE_MS
    assert all("TrendArrow" not in point for point in data["graphData"])

    current = data["connection"]["glucoseMeasurement"]
    assert START_MS - parse(current["FactoryTimestamp"]) < MINUTE_MS
    assert current["TrendArrow"] in range(1, 6)
    assert (parse(current["FactoryTimestamp"]) - times[-1]) % MINUTE_MS == 30_000  # off the grid
    # Europe/Berlin in June: the phone-local Timestamp runs two hours ahead.
    assert parse(current["Timestamp"]) - parse(current["FactoryTimestamp"]) == 120 * MINUTE_MS
    assert data["activeSensors"][0]["sensor"] == data["connection"]["sensor"]


async def test_current_value_moves_every_minute(
    sim: LluSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    seen = set()
    for _ in range(5):
        measurement = json.loads((await client.graph(ADA.patient_id)).reply.body)["data"][
            "connection"
        ]
        seen.add(measurement["glucoseMeasurement"]["FactoryTimestamp"])
        clock.advance(MINUTE_MS)
    assert len(seen) == 5


async def test_mmol_patients_get_value_in_mmol_and_mg_dl_alongside(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    point = (await graph_data(sim, http, KIM.patient_id))["graphData"][0]
    assert point["GlucoseUnits"] == 0
    assert point["Value"] == round(point["ValueInMgPerDl"] / 18.0, 1)


def test_sensor_start_is_stable_for_the_life_of_a_sensor() -> None:
    feed = PatientFeed.for_patient(1, SimPatient("p"))
    start = feed.sensor_start_ms(START_MS)
    assert start % 1000 == 0
    assert feed.sensor_start_ms(start + 13 * 24 * 3_600_000) == start
    assert feed.sensor_start_ms(start + 14 * 24 * 3_600_000) == start + 14 * 24 * 3_600_000


async def test_calls_need_version_product_account_id_and_ticket(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    await client.patients()
    (ticket,) = sim.service.tickets._tickets.values()
    user_id = sim.service.account(EU_EMAIL).user_id
    url = f"{sim.base_url('eu')}/llu/connections"
    good = {
        "product": "llu.android",
        "version": "4.16.0",
        "Authorization": f"Bearer {ticket.token}",
        "Account-Id": account_id_header(user_id),
    }

    async def status_of(**changes: str | None) -> tuple[int, object]:
        headers = {k: v for k, v in {**good, **changes}.items() if v is not None}
        response = await http.get(url, headers=headers)
        return response.status_code, response.json()

    assert (await status_of())[0] == 200
    assert await status_of(**{"Account-Id": None}) == (403, {"message": "RequiredHeaderMissing"})
    assert (await status_of(**{"Account-Id": account_id_header("someone else")}))[0] == 401
    assert await status_of(version="4.12.0") == (
        403,
        {"data": {"minimumVersion": "4.16.0"}, "status": 920},
    )
    assert (await status_of(product=None))[0] == 403
    assert (await status_of(Authorization="Bearer forged"))[0] == 401
    on_other_host = await http.get(f"{sim.base_url('us')}/llu/connections", headers=good)
    assert on_other_host.status_code == 401


async def test_admin_routes_turn_the_knobs(sim: LluSimulator, http: httpx.AsyncClient) -> None:
    async def admin(route: str, **body: object) -> object:
        response = await http.post(f"{sim.url}/__sim/{route}", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    client = llu_client(sim, http=http, region="eu")
    await client.graph(ADA.patient_id)
    state = (await http.get(f"{sim.url}/__sim/state")).json()
    assert state["counters"][EU_EMAIL]["graph_calls"] == 1
    assert state["logins_by_host"][EU_EMAIL] == {"eu": 1}
    assert "password" not in json.dumps(state)

    await admin("fail", count=1, status=503, retry_after=3)
    with pytest.raises(RetriableError):
        await client.graph(ADA.patient_id)
    await admin("malformed", count=1)
    body = json.loads((await client.graph(ADA.patient_id)).reply.body)
    assert {"FactoryTimestamp": "not a time"}.items() <= max(
        body["data"]["graphData"], key=lambda p: p["FactoryTimestamp"] == "not a time"
    ).items()
    await admin("minimum-version", version="4.20.0")
    assert sim.service.minimum_version == "4.20.0"
    await admin("step", email=EU_EMAIL, step="pp")
    assert sim.service.account(EU_EMAIL).step == "pp"
    created = await admin("accounts", email="new@example.com", password="pw", patient_ids="p-1")
    assert isinstance(created, dict)
    assert "user_id" in created
    assert await admin("clock/advance", ms=60_000) == {"now_ms": START_MS + 60_000}
    await admin("reset")
    assert sim.service.all_counters() == {}

    bad = await http.post(f"{sim.url}/__sim/step", json={"email": EU_EMAIL, "step": "x"})
    assert bad.status_code == 400
    unknown = await http.post(f"{sim.url}/__sim/lock", json={"email": "who@example.com"})
    assert unknown.status_code == 200  # a lock on an unknown account is harmless


def test_generated_accounts_are_reproducible() -> None:
    first = generate_accounts(4, seed=3, regions=("eu", "us"), patients_per_account=2)
    again = generate_accounts(4, seed=3, regions=("eu", "us"), patients_per_account=2)
    assert first == again
    assert [a.region for a in first] == ["eu", "us", "eu", "us"]
    assert all(len(a.patients) == 2 for a in first)

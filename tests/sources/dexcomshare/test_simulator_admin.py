"""The admin routes under /__sim/ turn the same knobs as the Python methods."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from nightstream.schemas.errors import RetriableError
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator
from tests.sources.dexcomshare.conftest import US_USER, share_client


async def admin(http: httpx.AsyncClient, sim: ShareSimulator, route: str, **body: object) -> object:
    response = await http.post(f"{sim.url}/__sim/{route}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_state_shows_accounts_counters_and_no_passwords(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    await share_client(sim.server("us"), http=http).read_glucose(10, 1)
    response = await http.get(f"{sim.url}/__sim/state")
    state = response.json()
    assert state["now_ms"] == sim.clock.now_ms()
    assert {a["username"] for a in state["accounts"]} >= {US_USER}
    assert state["counters"][US_USER]["reads"] == 1
    assert state["counters"][US_USER]["login_attempts"] == 2
    assert "password" not in response.text


async def test_fail_and_reset(sim: ShareSimulator, http: httpx.AsyncClient) -> None:
    client = share_client(sim.server("us"), http=http)
    await admin(http, sim, "fail", count=2, status=429, retry_after=7)
    with pytest.raises(RetriableError) as raised:
        await client.read_glucose(10, 1)
    assert raised.value.retry_after == 7
    await admin(http, sim, "reset")
    assert (await client.read_glucose(10, 1)).reading_count == 1
    assert sim.counters_for(US_USER).reads == 1


async def test_latency(sim: ShareSimulator, http: httpx.AsyncClient) -> None:
    await admin(http, sim, "latency", seconds=0.3)
    with pytest.raises(RetriableError, match="timed out"):
        await share_client(sim.server("us"), http=http, timeout=0.05).read_glucose(10, 1)
    await admin(http, sim, "latency", seconds=0)
    assert sim.knobs.latency_s == 0


async def test_down_and_up(sim: ShareSimulator, http: httpx.AsyncClient) -> None:
    await admin(http, sim, "down", duration_ms=3_600_000, mode="unavailable")
    client = share_client(sim.server("us"), http=http)
    with pytest.raises(RetriableError, match="503"):
        await client.read_glucose(10, 1)
    await admin(http, sim, "up")
    assert (await client.read_glucose(10, 1)).reading_count == 1


async def test_down_refusing_connections(sim: ShareSimulator) -> None:
    async with httpx.AsyncClient() as http:
        await admin(http, sim, "down", duration_ms=3_600_000, mode="refuse")
    async with httpx.AsyncClient() as fresh:
        with pytest.raises(httpx.ConnectError):
            await fresh.get(f"{sim.url}/__sim/state")
    await sim.come_back()


async def test_expire_sessions_and_reject_reads(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    await client.read_glucose(10, 1)
    await admin(http, sim, "expire-sessions", forget=True)
    await client.read_glucose(10, 1)
    await admin(http, sim, "reject-reads", count=1, code="SessionNotValid")
    await client.read_glucose(10, 1)
    assert sim.counters_for(US_USER).sessions_issued == 3


async def test_malformed_lock_accounts_and_clock(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    created = await admin(
        http,
        sim,
        "accounts",
        username="new@example.com",
        password="pw",
        region="ous",
        trend_style="integer",
    )
    assert isinstance(created, dict)
    assert created["account_id"]
    await admin(http, sim, "malformed", username="new@example.com", kind="missing_value")
    client = share_client(sim.server("ous"), "new@example.com", "pw", http=http)
    readings = json.loads((await client.read_glucose(30, 6)).body)
    assert sum("Value" not in r for r in readings) == 1

    moved = await admin(http, sim, "clock/advance", ms=60_000)
    assert moved == {"now_ms": clock.now_ms()}

    await admin(http, sim, "lock", username=US_USER)
    assert (await share_client(sim.server("us"), http=http).check_login()).outcome == "refused"


async def test_revised_readings_and_inflated_answers(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    before = json.loads((await client.read_glucose(30, 6)).body)
    second_newest = int(before[1]["WT"][5:-1])
    original = sim.service.trace(US_USER).reading(second_newest).mgdl
    revised = await admin(
        http, sim, "revise", username=US_USER, time_ms=second_newest, mgdl=original + 9
    )
    assert revised == {"time_ms": second_newest, "mgdl": original + 9}
    after = json.loads((await client.read_glucose(30, 6)).body)
    assert [r["Value"] for r in after] == [
        r["Value"] + (9 if r is before[1] else 0) for r in before
    ]
    assert sim.service.revisions(US_USER)[second_newest].at_ms == clock.now_ms()

    await admin(http, sim, "inflate", username=US_USER, size_bytes=100_000)
    inflated = await client.read_glucose(30, 6)
    assert len(inflated.body) >= 100_000
    answers = list(sim.service.answers)
    assert [a.inflated for a in answers] == [False, False, True]
    assert answers[-1].size == len(inflated.body)
    assert answers[-1].sha256 == hashlib.sha256(inflated.body).hexdigest()
    assert (answers[-1].minutes, answers[-1].max_count) == (30, 6)


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("fail", {"count": "two"}),
        ("down", {"duration_ms": 1, "mode": "sideways"}),
        ("malformed", {"kind": "weird"}),
        ("accounts", {"username": "x"}),
        ("lock", {"username": "nobody@example.com"}),
        ("clock/advance", {"ms": -1}),
        ("revise", {"username": US_USER, "time_ms": 1, "mgdl": 100}),
        ("inflate", {"username": US_USER, "size_bytes": "big"}),
    ],
)
async def test_bad_admin_input_is_refused(
    sim: ShareSimulator, http: httpx.AsyncClient, route: str, body: dict[str, object]
) -> None:
    response = await http.post(f"{sim.url}/__sim/{route}", json=body)
    assert response.status_code in (400, 404)

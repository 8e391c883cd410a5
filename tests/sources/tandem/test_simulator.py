"""The simulated Tandem Source is faithful where the client and transform depend on it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta

import httpx

from nightstream.simulators.tandem import ClockChange, SimPump, TandemSimulator
from nightstream.simulators.tandem.events import PumpLog
from nightstream.streams.tandem.codes import MAPPED_CODES
from tests.sources.tandem.conftest import (
    NEW_PUMP,
    START_MS,
    TWO_PUMPS_EMAIL,
    TWO_PUMPS_PASSWORD,
    UNUSED_PUMP,
    tandem_client,
)

DAY_MS = 86_400_000


def codes_over(cgm: str, days: int = 14) -> Counter[int]:
    pump = SimPump(
        "5500005", cgm=cgm, first_event_ms=START_MS - 30 * DAY_MS, daily_basal_events=True
    )
    log = PumpLog(pump, 1)
    end = date(2026, 6, 8)
    return Counter(
        e["eventCode"] for e in log.events(end - timedelta(days=days - 1), end, START_MS)
    )


def test_every_mapped_event_type_and_unmapped_ones_occur() -> None:
    seen = set()
    for cgm in ("g7", "g6", "libre2", "libre3"):
        seen |= set(codes_over(cgm))
    generic_alert, unlisted_sessions = {171}, {213, 406, 214, 405, 404, 486}
    assert MAPPED_CODES - seen <= generic_alert | unlisted_sessions
    assert {90, 313, 999, 28, 64, 65, 66} <= seen  # codes the mapping passes over


def test_event_numbers_and_times_are_the_same_whoever_asks() -> None:
    log = PumpLog(NEW_PUMP, 5)
    whole = log.events(date(2026, 6, 1), date(2026, 6, 4), START_MS)
    parts = log.events(date(2026, 6, 1), date(2026, 6, 2), START_MS) + log.events(
        date(2026, 6, 3), date(2026, 6, 4), START_MS
    )
    assert whole == parts
    numbers = [e["sequenceNumber"] for e in whole]
    assert numbers == sorted(set(numbers))


def test_a_clock_change_moves_the_wall_clock_and_is_listed() -> None:
    change = ClockChange(START_MS - 2 * DAY_MS, 3_600_000)
    log = PumpLog(
        SimPump("6600006", first_event_ms=START_MS - 10 * DAY_MS, clock_changes=(change,)), 2
    )
    before, after = log.wall(change.at_ms - 1), log.wall(change.at_ms)
    assert after - before > timedelta(minutes=59)
    [listed] = log.clock_changes()
    assert listed["eventCode"] == 13
    assert (
        listed["eventProperties"]["timeAfter"] - listed["eventProperties"]["timePrior"] >= 3_599_999
    )


async def test_data_calls_need_the_source_origin_and_windows_stay_under_a_month(
    sim: TandemSimulator,
) -> None:
    client = tandem_client(sim, TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD)
    pumps = await client.pumps()
    assert [p.serial for p in pumps] == ["3300003", "3300004", UNUSED_PUMP.serial]
    assert pumps[2].max_date_of_events is None
    newest = datetime.fromisoformat(pumps[1].max_date_of_events or "")
    assert newest.date() == date(2026, 6, 9)
    token = client._tokens.access_token.reveal()  # type: ignore[union-attr]
    await client.aclose()
    source = sim.hosts("us").source
    url = f"{source}api/reports/bff/pump-logs/{pumps[1].assignment_id}"
    pumper = sim.service.account(TWO_PUMPS_EMAIL).pumper_id
    async with httpx.AsyncClient() as http:
        auth = {"Authorization": f"Bearer {token}"}
        blocked = await http.get(url, headers=auth)
        assert blocked.status_code == 403
        assert "html" in blocked.headers["content-type"]
        origin = {**auth, "Origin": sim.hosts("us").origin}
        too_long = await http.get(
            url,
            headers=origin,
            params={
                "pumperId": pumper,
                "startDate": "2026-04-01T00:00:00Z",
                "endDate": "2026-05-15T23:59:59Z",
            },
        )
        assert too_long.status_code == 400
        assert json.loads(too_long.content) == {"message": "Check input parameters"}

"""The Tandem poll source: backfill in windows of at most 28 days, a cursor per pump, polls that
read the pump logs only when the pump uploaded, and which pump a link follows."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from nightstream.schemas.errors import LinkFatalError
from nightstream.schemas.identity import stream_digest
from nightstream.schemas.records import PollCursor
from nightstream.simulators.tandem import TandemSimulator
from nightstream.sources.poll_source import FetchResult
from nightstream.sources.simclock import ManualClock
from nightstream.sources.tandem.poll_source import MAX_PAYLOAD_BYTES, TandemPollSource
from nightstream.streams.tandem import transform
from tests.sources.tandem.conftest import (
    ADA_PUMP,
    NEW_PUMP,
    OLD_PUMP,
    TWO_PUMPS_EMAIL,
    TWO_PUMPS_PASSWORD,
    US_EMAIL,
    US_PASSWORD,
    tandem_client,
)

ZONE = "America/New_York"


def poll_source(
    sim: TandemSimulator, email: str = US_EMAIL, password: str = US_PASSWORD, **options: object
) -> TandemPollSource:
    return TandemPollSource(tandem_client(sim, email, password), timezone=ZONE, **options)  # type: ignore[arg-type]


def cursor_of(source: TandemPollSource, result: FetchResult, now_ms: int) -> PollCursor:
    return PollCursor(
        link_id=source.link_id, vendor="tandem", updated_at_ms=now_ms, state=result.state
    )


async def run_backfill(
    source: TandemPollSource, clock: ManualClock
) -> tuple[list[tuple[date, date]], PollCursor | None]:
    """Poll until the source asks for its normal wait; the windows asked for, the cursor."""
    windows: list[tuple[date, date]] = []
    cursor: PollCursor | None = None
    for _ in range(40):
        result = await source.fetch(cursor, clock.now_ms())
        for payload in result.payloads:
            assert len(payload.body) <= MAX_PAYLOAD_BYTES
            params = payload.request_params
            windows.append((date.fromisoformat(params["start"]), date.fromisoformat(params["end"])))
        cursor = cursor_of(source, result, clock.now_ms())
        if source.seconds_until_next_poll(cursor, clock.now_ms()) > 5:
            return windows, cursor
    raise AssertionError("the backfill never ended")


def contiguous(windows: list[tuple[date, date]]) -> bool:
    return all(
        after[0] == before[1] + timedelta(days=1) for before, after in itertools.pairwise(windows)
    )


async def test_first_poll_backfills_seven_days_in_windows_that_fit(
    sim: TandemSimulator, clock: ManualClock
) -> None:
    source = poll_source(sim)
    today = source.today(clock.now_ms())
    windows, _ = await run_backfill(source, clock)
    assert windows[0][0] == today - timedelta(days=6)
    assert windows[-1][1] == today
    assert contiguous(windows)
    # Seven simulated days are too big for one Kafka message: the window was halved.
    assert len(windows) > 1
    assert all((end - start).days < 28 for start, end in windows)


async def test_a_long_backfill_uses_windows_of_28_days(
    sim: TandemSimulator, clock: ManualClock
) -> None:
    source = poll_source(
        sim, TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD, pump_serial=OLD_PUMP.serial, backfill_days=40
    )
    today = source.today(clock.now_ms())
    windows, _ = await run_backfill(source, clock)
    assert windows == [
        (today - timedelta(days=39), today - timedelta(days=12)),
        (today - timedelta(days=11), today),
    ]


async def test_payloads_carry_the_window_as_sent_and_name_the_pump(
    sim: TandemSimulator, clock: ManualClock
) -> None:
    source = poll_source(sim, backfill_days=1)
    result = await source.fetch(None, clock.now_ms())
    [payload] = result.payloads
    assert payload.vendor == "tandem"
    assert payload.endpoint == "pump-logs"
    assert payload.source_tz == ZONE
    assert payload.request_params["stream"] == stream_digest(ADA_PUMP.assignment_id)
    assert ADA_PUMP.assignment_id not in str(payload.request_params)
    assert payload.window_start_ms is not None
    assert payload.window_end_ms is not None
    assert payload.window_end_ms - payload.window_start_ms == 86_400_000
    assert result.newest_data_ms is not None
    assert result.newest_data_ms <= clock.now_ms()
    output = transform(payload)
    assert output.rejected == []
    assert len(output.records) > 100  # six hours of readings and basal records


async def test_no_upload_no_pump_log_call_then_only_the_new_days(
    sim: TandemSimulator, clock: ManualClock
) -> None:
    source = poll_source(sim, backfill_days=2)
    _, cursor = await run_backfill(source, clock)
    calls = sim.counters_for(US_EMAIL)["pump_log_calls"]
    idle = await source.fetch(cursor, clock.now_ms())
    assert idle.payloads == []
    assert sim.counters_for(US_EMAIL)["pump_log_calls"] == calls
    clock.advance(10 * 60_000)
    fresh = await source.fetch(cursor, clock.now_ms())
    [payload] = fresh.payloads
    today = source.today(clock.now_ms())
    # From the newest event's day, less one day of overlap, to today.
    assert payload.request_params["start"] == (today - timedelta(days=1)).isoformat()
    assert payload.request_params["end"] == today.isoformat()
    digest = stream_digest(ADA_PUMP.assignment_id)
    assert int(fresh.state[f"{digest}.seq"]) > int(cursor.state[f"{digest}.seq"])  # type: ignore[union-attr]


async def test_the_pump_that_uploaded_last_unless_a_serial_is_set(
    sim: TandemSimulator, clock: ManualClock
) -> None:
    auto = poll_source(sim, TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD, backfill_days=1)
    [payload] = (await auto.fetch(None, clock.now_ms())).payloads
    assert payload.request_params["stream"] == stream_digest(NEW_PUMP.assignment_id)
    chosen = poll_source(sim, TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD, pump_serial=OLD_PUMP.serial)
    [payload] = (await chosen.fetch(None, clock.now_ms())).payloads
    assert payload.request_params["stream"] == stream_digest(OLD_PUMP.assignment_id)
    unknown = poll_source(sim, TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD, pump_serial="999")
    with pytest.raises(LinkFatalError) as raised:
        await unknown.fetch(None, clock.now_ms())
    assert "3300003, 3300004, 4400005" in raised.value.user_message


async def test_check_login_says_which_pump_the_link_follows(sim: TandemSimulator) -> None:
    verdict = await poll_source(sim, TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD).check_login()
    assert verdict.ok
    assert "3 pump(s)" in verdict.message
    assert verdict.message.endswith(
        f"this link follows t:slim X2 serial {NEW_PUMP.serial} (newest event "
        f"{verdict.pumps[1].max_date_of_events}), zone {ZONE}"
    )
    refused = await poll_source(
        sim, TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD, pump_serial="1"
    ).check_login()
    assert refused.outcome == "refused"

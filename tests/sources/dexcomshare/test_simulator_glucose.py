"""Simulated glucose: deterministic, smooth, in range, with trends that follow the slope."""

from __future__ import annotations

import itertools
import json

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from nightstream.simulators.dexcomshare import AcceleratedClock, ManualClock, ShareSimulator
from nightstream.simulators.kit.glucose import (
    DAY_MS,
    READING_INTERVAL_MS,
    GlucoseTrace,
    trend_for_rate,
)
from tests.sources.dexcomshare.conftest import ACCOUNTS, START_MS, US_USER, share_client

UP = {"FortyFiveUp", "SingleUp", "DoubleUp"}
DOWN = {"FortyFiveDown", "SingleDown", "DoubleDown"}

seeds = st.integers(min_value=0, max_value=2**32)
keys = st.text(min_size=1, max_size=20)
times = st.integers(min_value=10**12, max_value=4 * 10**12)


@settings(max_examples=200)
@given(seed=seeds, key=keys, t_ms=times)
def test_same_seed_and_account_same_reading_in_range(seed: int, key: str, t_ms: int) -> None:
    first = GlucoseTrace.from_seed(seed, key).reading(t_ms)
    assert first == GlucoseTrace.from_seed(seed, key).reading(t_ms)
    assert 40 <= first.mgdl <= 400


@settings(max_examples=100)
@given(seed=seeds, key=keys, t_ms=times)
def test_glucose_is_smooth_and_trends_follow_the_change(seed: int, key: str, t_ms: int) -> None:
    trace = GlucoseTrace.from_seed(seed, key)
    now = trace.reading(t_ms)
    before = trace.reading(t_ms - READING_INTERVAL_MS)
    change = now.mgdl - before.mgdl
    assert abs(change) <= 30
    if change > 10 and before.mgdl > 40 and now.mgdl < 400:
        assert now.trend in UP
    if change < -10 and now.mgdl > 40 and before.mgdl < 400:
        assert now.trend in DOWN


def test_trend_bands() -> None:
    assert [trend_for_rate(r) for r in (3.5, 2.5, 1.5, 0.5, -0.5, -1.5, -2.5, -3.5)] == [
        "DoubleUp",
        "SingleUp",
        "FortyFiveUp",
        "Flat",
        "Flat",
        "FortyFiveDown",
        "SingleDown",
        "DoubleDown",
    ]


def test_accounts_differ() -> None:
    day = [
        GlucoseTrace.from_seed(1, f"p{i}").readings(START_MS, minutes=1440, max_count=288)
        for i in range(3)
    ]
    assert day[0] != day[1] != day[2]


def test_gaps_leave_grid_times_out() -> None:
    trace = GlucoseTrace.from_seed(1, "gappy", gap_probability=0.2)
    readings = trace.readings(START_MS, minutes=1440, max_count=288)
    assert 180 < len(readings) < 270
    assert all((r.time_ms - trace.grid_offset_ms) % READING_INTERVAL_MS == 0 for r in readings)


async def test_one_simulated_day_of_polling_every_five_minutes(
    sim: ShareSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = share_client(sim.server("us"), http=http)
    seen: dict[int, int] = {}
    for _ in range(DAY_MS // READING_INTERVAL_MS + 1):
        clock.advance(READING_INTERVAL_MS)
        for reading in json.loads((await client.read_glucose(15, 3)).body):
            seen[int(reading["WT"][5:-1])] = reading["Value"]

    times = sorted(seen)
    assert len(times) >= 288
    assert all(b - a == READING_INTERVAL_MS for a, b in itertools.pairwise(times))
    assert times[-1] <= clock.now_ms()
    # Sessions last a day: one login at the start, one more when it timed out.
    assert sim.counters_for(US_USER).sessions_issued == 2


def test_accelerated_clock_runs_fast_and_can_skip() -> None:
    real = [100.0]
    clock = AcceleratedClock(60, START_MS, monotonic=lambda: real[0])
    assert clock.now_ms() == START_MS
    real[0] += 1.5
    assert clock.now_ms() == START_MS + 90_000
    clock.advance(DAY_MS)
    assert clock.now_ms() == START_MS + 90_000 + DAY_MS


async def test_simulator_follows_an_accelerated_clock(http: httpx.AsyncClient) -> None:
    real = [0.0]
    clock = AcceleratedClock(3600, START_MS, monotonic=lambda: real[0])
    async with ShareSimulator(ACCOUNTS[:1], clock=clock) as sim:
        client = share_client(sim.server("us"), http=http)
        first = json.loads((await client.read_glucose(5, 1)).body)[0]["WT"]
        real[0] += 1.0  # one real second, one simulated hour
        newest = json.loads((await client.read_glucose(60, 12)).body)
        assert len(newest) == 12
        assert int(newest[0]["WT"][5:-1]) - int(first[5:-1]) in range(
            3_600_000 - READING_INTERVAL_MS, 3_600_000 + READING_INTERVAL_MS
        )

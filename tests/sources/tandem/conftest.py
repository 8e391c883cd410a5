"""A running Tandem Source simulator on a hand-moved clock, and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from nightstream.simulators.tandem import SimOptions, SimPump, TandemAccount, TandemSimulator
from nightstream.simulators.tandem.accounts import ClockChange
from nightstream.sources.simclock import ManualClock
from nightstream.sources.tandem.client import TandemSourceClient

START_MS = 1_781_000_000_000  # 2026-06-09T10:13:20Z
DAY_MS = 86_400_000
US_EMAIL, US_PASSWORD = "ada@example.com", "us-password-1"
EU_EMAIL, EU_PASSWORD = "bo@example.com", "eu-password-2"
TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD = "cy@example.com", "two-pumps-3"
NO_PUMP_EMAIL, NO_PUMP_PASSWORD = "dee@example.com", "no-pump-4"

ADA_PUMP = SimPump("1100001", first_event_ms=START_MS - 60 * DAY_MS)
BO_PUMP = SimPump(
    "2200002", model="Tandem Mobi", time_zone="Europe/Berlin", first_event_ms=START_MS - 60 * DAY_MS
)
OLD_PUMP = SimPump(
    "3300003", first_event_ms=START_MS - 400 * DAY_MS, last_event_ms=START_MS - 200 * DAY_MS
)
NEW_PUMP = SimPump(
    "3300004",
    first_event_ms=START_MS - 100 * DAY_MS,
    clock_changes=(ClockChange(START_MS - 2 * DAY_MS, 3_600_000),),
)
UNUSED_PUMP = SimPump("4400005", uploads=False)

ACCOUNTS = (
    TandemAccount(US_EMAIL, US_PASSWORD, region="us", pumps=(ADA_PUMP,)),
    TandemAccount(EU_EMAIL, EU_PASSWORD, region="eu", pumps=(BO_PUMP,)),
    TandemAccount(TWO_PUMPS_EMAIL, TWO_PUMPS_PASSWORD, pumps=(OLD_PUMP, NEW_PUMP, UNUSED_PUMP)),
    TandemAccount(NO_PUMP_EMAIL, NO_PUMP_PASSWORD, pumps=(UNUSED_PUMP,)),
)
OPTIONS = SimOptions(seed=5, token_ttl_s=1800)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[TandemSimulator]:
    async with TandemSimulator(ACCOUNTS, clock=clock, options=OPTIONS) as simulator:
        yield simulator


def tandem_client(
    sim: TandemSimulator,
    email: str = US_EMAIL,
    password: str = US_PASSWORD,
    region: str = "us",
    **options: Any,
) -> TandemSourceClient:
    options.setdefault("link_id", "pump-1")
    return TandemSourceClient(
        email=email,
        password=password,
        hosts=sim.hosts(region),
        clock=sim.clock,
        timeout=httpx.Timeout(10.0),
        **options,
    )

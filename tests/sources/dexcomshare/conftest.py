"""A running Share simulator with a hand-moved clock, and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from nightstream.simulators.dexcomshare import (
    LockoutPolicy,
    ManualClock,
    ShareSimulator,
    SimAccount,
)
from nightstream.simulators.kit.glucose import MINUTE_MS
from nightstream.sources.dexcomshare.client import DexcomShareClient
from nightstream.sources.dexcomshare.servers import ShareServer

START_MS = 1_750_000_000_000
LOCK_MS = 10 * MINUTE_MS
MAX_FAILURES = 3

US_USER, US_PASSWORD = "ada@example.com", "us-password-1"
OUS_USER, OUS_PASSWORD = "bea@example.com", "ous-password-2"
JP_USER, JP_PASSWORD = "chie@example.jp", "jp-password-3"
OLD_USER, OLD_PASSWORD = "dan@example.com", "old-password-4"
NO_RECEIVER_USER, NO_RECEIVER_PASSWORD = "eve@example.com", "nr-password-5"
NO_FOLLOWER_USER, NO_FOLLOWER_PASSWORD = "fay@example.com", "nf-password-6"

ACCOUNTS = (
    SimAccount(US_USER, US_PASSWORD, "us", utc_offset_minutes=-240),
    SimAccount(OUS_USER, OUS_PASSWORD, "ous", utc_offset_minutes=60),
    SimAccount(JP_USER, JP_PASSWORD, "jp", utc_offset_minutes=540),
    SimAccount(
        OLD_USER,
        OLD_PASSWORD,
        "us",
        utc_offset_minutes=-330,
        date_style="slashed",
        trend_style="integer",
    ),
    SimAccount(NO_RECEIVER_USER, NO_RECEIVER_PASSWORD, "us", share="no_receiver"),
    SimAccount(NO_FOLLOWER_USER, NO_FOLLOWER_PASSWORD, "us", share="no_follower"),
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[ShareSimulator]:
    lockout = LockoutPolicy(failures=MAX_FAILURES, lockout_ms=LOCK_MS)
    async with ShareSimulator(ACCOUNTS, clock=clock, seed=7, lockout=lockout) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def share_client(
    server: ShareServer,
    username: str = US_USER,
    password: str = US_PASSWORD,
    *,
    http: httpx.AsyncClient | None = None,
    timeout: float = 5.0,
    link_id: str = "link-1",
) -> DexcomShareClient:
    return DexcomShareClient(
        link_id=link_id,
        server=server,
        username=username,
        password=password,
        http=http,
        timeout=httpx.Timeout(timeout),
    )

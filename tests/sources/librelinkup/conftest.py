"""A running LibreLinkUp simulator with a hand-moved clock, and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from nightstream.simulators.librelinkup import ABBOTT_LOCKOUT, LluAccount, LluSimulator, SimPatient
from nightstream.simulators.librelinkup.accounts import MMOL_L
from nightstream.simulators.librelinkup.options import SimOptions
from nightstream.sources.librelinkup.client import LibreLinkUpClient
from nightstream.sources.simclock import ManualClock
from tests.sources.dexcomshare.conftest import http as http

START_MS = 1_750_000_000_000
LOCKOUT_S = 300
TICKET_TTL_MS = 6 * 3_600_000

EU_EMAIL, EU_PASSWORD = "ada@example.com", "eu-password-1"
US_EMAIL, US_PASSWORD = "bo@example.com", "us-password-2"
FAMILY_EMAIL, FAMILY_PASSWORD = "parent@example.com", "family-password-3"
NOBODY_EMAIL, NOBODY_PASSWORD = "nobody@example.com", "nobody-password-4"
CN_EMAIL, CN_PASSWORD = "chen@example.cn", "cn-password-5"

ADA = SimPatient(
    "0b7e6f3c-2a41-4c55-9e8d-1f2a3b4c5d6e", "Ada", "Example", time_zone="Europe/Berlin"
)
KIM = SimPatient("5d1c9a20-7f3e-4b8a-a6c1-9e0d2f4b6a81", "Kim", "Example", units=MMOL_L)
LEE = SimPatient("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "lee", "Example")

ACCOUNTS = (
    LluAccount(EU_EMAIL, EU_PASSWORD, region="eu", patients=(ADA,)),
    LluAccount(US_EMAIL, US_PASSWORD, region="us"),
    LluAccount(FAMILY_EMAIL, FAMILY_PASSWORD, region="eu2", patients=(KIM, LEE)),
    LluAccount(NOBODY_EMAIL, NOBODY_PASSWORD, region="de", follows_nobody=True),
    LluAccount(CN_EMAIL, CN_PASSWORD, region="cn"),
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


OPTIONS = SimOptions(
    seed=7,
    lockout=replace(ABBOTT_LOCKOUT, lockout_ms=LOCKOUT_S * 1000),
    ticket_ttl_ms=TICKET_TTL_MS,
)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[LluSimulator]:
    simulator = LluSimulator(ACCOUNTS, clock=clock, options=OPTIONS)
    async with simulator:
        yield simulator


def llu_client(
    sim: LluSimulator,
    email: str = EU_EMAIL,
    password: str = EU_PASSWORD,
    region: str = "auto",
    *,
    timeout: float = 5.0,
    **options: Any,
) -> LibreLinkUpClient:
    """A client of ``sim``'s account ``email``, on the simulator's clock; ``options`` (http,
    version, link_id, hosts) go to the client as they are."""
    options.setdefault("hosts", sim.hosts())
    options.setdefault("link_id", "link-1")
    return LibreLinkUpClient(
        email=email,
        password=password,
        region=region,
        clock=sim.clock,
        timeout=httpx.Timeout(timeout),
        **options,
    )

"""Reads ask for at most one day and 288 readings, and hand the body back untouched."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest

from nightstream.simulators.dexcomshare import ShareSimulator
from tests.sources.dexcomshare.conftest import US_USER, share_client


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        ((5000, 1000), (1440, 288)),
        ((2880, 576), (1440, 288)),
        ((0, 0), (1, 1)),
        ((-5, 3), (1, 3)),
        ((30, 6), (30, 6)),
    ],
)
async def test_window_is_capped_to_what_share_serves(
    sim: ShareSimulator, http: httpx.AsyncClient, asked: tuple[int, int], sent: tuple[int, int]
) -> None:
    answer = await share_client(sim.server("us"), http=http).read_glucose(*asked)

    request = sim.service.read_log[-1]
    assert (request.minutes, request.max_count) == tuple(str(n) for n in sent)
    assert (answer.minutes, answer.max_count) == sent
    assert answer.request_params()["minutes"] == str(sent[0])


async def test_a_full_day_is_288_readings_newest_first(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    answer = await share_client(sim.server("us"), http=http).read_glucose()
    readings = json.loads(answer.body)
    times = [int(r["WT"][5:-1]) for r in readings]
    assert len(readings) == answer.reading_count == 288
    assert all(newer - older == 300_000 for newer, older in itertools.pairwise(times))


async def test_maxcount_limits_a_window_with_more_readings(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    answer = await share_client(sim.server("us"), http=http).read_glucose(1440, 3)
    assert answer.reading_count == 3


async def test_body_is_exactly_what_share_sent(
    sim: ShareSimulator, http: httpx.AsyncClient
) -> None:
    answer = await share_client(sim.server("us"), http=http).read_glucose(120, 24)
    assert answer.body == sim.service.last_read_body[US_USER]
    assert answer.status == 200
    assert answer.content_type == "application/json; charset=utf-8"
    assert answer.request_params() == {
        "minutes": "120",
        "maxCount": "24",
        "region": "us",
        "stream": answer.account_digest,
    }

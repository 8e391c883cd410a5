"""The LibreLinkUp simulator answers bursts from one account with HTTP 429 and Retry-After."""

from __future__ import annotations

import httpx
import pytest

from nightstream.schemas.errors import RetriableError
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.simulators.librelinkup.options import ABBOTT_CALL_QUOTA
from nightstream.sources.simclock import ManualClock
from tests.sources.librelinkup.conftest import ADA, EU_EMAIL, llu_client


async def test_a_burst_of_graph_calls_is_throttled_and_the_client_waits(
    sim: LluSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http)
    for _ in range(ABBOTT_CALL_QUOTA.requests):
        await client.graph(ADA.patient_id)
    with pytest.raises(RetriableError, match="throttled") as throttled:
        await client.graph(ADA.patient_id)
    assert throttled.value.retry_after == 60
    assert sim.counters_for(EU_EMAIL)["throttled_calls"] == 1
    clock.advance(60_000)
    await client.graph(ADA.patient_id)

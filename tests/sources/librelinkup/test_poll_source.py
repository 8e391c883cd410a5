"""The poll source: one raw graph per poll, the region in the cursor, a jittered minute cadence."""

from __future__ import annotations

import json

import httpx
import pytest

from nightstream.schemas.identity import stream_digest
from nightstream.schemas.records import PollCursor
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.sources.librelinkup.poll_source import (
    DEFAULT_POLL_SECONDS,
    MIN_POLL_SECONDS,
    LibreLinkUpPollSource,
)
from tests.sources.librelinkup.conftest import ADA, EU_EMAIL, llu_client


def cursor(state: dict[str, str]) -> PollCursor:
    return PollCursor(link_id="link-1", vendor="librelinkup", updated_at_ms=0, state=state)


async def test_fetch_publishes_the_graph_untouched_but_for_the_ticket(
    sim: LluSimulator, http: httpx.AsyncClient
) -> None:
    source = LibreLinkUpPollSource(llu_client(sim, http=http), patient_id=ADA.patient_id)
    now_ms = sim.clock.now_ms()
    result = await source.fetch(None, now_ms)
    (payload,) = result.payloads
    assert (payload.link_id, payload.vendor, payload.endpoint) == ("link-1", "librelinkup", "graph")
    assert payload.request_params == {"stream": stream_digest(ADA.patient_id), "region": "eu"}
    assert (payload.http_status, payload.fetched_at_ms, payload.window_end_ms) == (
        200,
        now_ms,
        now_ms,
    )
    assert payload.window_start_ms == now_ms - 12 * 3_600_000
    assert payload.content_type.startswith("application/json")
    body = json.loads(payload.body)
    assert body["data"]["connection"]["patientId"] == ADA.patient_id
    assert result.state == {"region": "eu"}
    assert result.newest_data_ms is None


@pytest.mark.parametrize(("remembered", "redirects"), [("eu", 0), ("us", 1)])
async def test_region_from_the_cursor_is_tried_first(
    sim: LluSimulator, http: httpx.AsyncClient, remembered: str, redirects: int
) -> None:
    """A remembered region saves the redirect; a stale one is corrected by it."""
    source = LibreLinkUpPollSource(llu_client(sim, http=http), patient_id=ADA.patient_id)
    result = await source.fetch(cursor({"region": remembered}), sim.clock.now_ms())
    assert result.state == {"region": "eu"}
    assert sim.counters_for(EU_EMAIL)["redirects"] == redirects


async def test_poll_interval_is_steady_with_a_floor(sim: LluSimulator) -> None:
    """Steady, so a link keeps the place in the interval its phase gave it."""
    client = llu_client(sim)
    default = LibreLinkUpPollSource(client)
    waits = {default.seconds_until_next_poll(None, now) for now in range(0, 10**6, 7919)}
    assert waits == {DEFAULT_POLL_SECONDS}
    assert default.poll_interval_seconds == DEFAULT_POLL_SECONDS
    hasty = LibreLinkUpPollSource(client, poll_interval_seconds=1)
    assert hasty.seconds_until_next_poll(None, 0) >= MIN_POLL_SECONDS
    await default.aclose()

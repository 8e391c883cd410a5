"""Dexcom Share -> Kafka -> processor -> sink -> Nightscout, on the real broker, as processes."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from nightstream.config import Settings, load_settings
from nightstream.kafka_offsets import group_lag, records_in, sink_backlog
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.identity import device_name, stream_digest
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator, generate_accounts
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.sources.runner import PollerOptions
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.timing import scaled

pytestmark = pytest.mark.kafka

READINGS_PER_DAY = 288
UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]


@pytest.fixture
async def nightscout() -> AsyncIterator[NightscoutTestServer]:
    server = NightscoutTestServer(api_secret=os.urandom(12).hex())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path)
    yield running
    running.stop_all()


def _links(sim: ShareSimulator) -> list[LinkSpec]:
    return [
        LinkSpec(f"p{n:02d}", a.username, a.password, a.region, sim.base_url(a.region))
        for n, a in enumerate(sim.accounts)
    ]


def _settings(pipeline: Pipeline) -> Settings:
    return load_settings({}, pipeline.config)


async def _poll_once(pipeline: Pipeline, clock: ManualClock | None = None) -> None:
    options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
    if clock is None:
        poller = build_poller(_settings(pipeline), options)
    else:
        poller = build_poller(_settings(pipeline), options, clock=clock.now_ms)
    await poller.run(asyncio.Event())
    assert {s.state for s in poller.status.values()} == {"done"}, poller.status


async def _start_roles(
    pipeline: Pipeline, nightscout: NightscoutTestServer, sim: ShareSimulator
) -> None:
    """One link per simulated account, all to one target; processor and sink running."""
    token = nightscout.create_access_token("sink", permissions=UPLOADER)
    pipeline.write_config({"ns": (nightscout.url, token)}, _links(sim))
    await pipeline.create_topics()
    pipeline.start("processor", "process")
    pipeline.start("sink", "sink")


async def _settled(pipeline: Pipeline) -> None:
    """Wait until the processor and the sink have committed everything there is."""
    raw = [f"{pipeline.prefix}.raw.dexcomshare"]

    async def caught_up() -> bool:
        processor = await group_lag(pipeline.bootstrap, f"{pipeline.prefix}-processor", raw)
        sink = await sink_backlog(pipeline.bootstrap, pipeline.prefix)
        return processor == 0 and sink == 0

    await wait_until(caught_up, within=120, what="processor and sink to catch up", interval=1)


def _entries_by_device(server: NightscoutTestServer) -> Counter[str]:
    return Counter(str(d["device"]) for d in server.store.documents("entries"))


def _assert_each_reading_once(server: NightscoutTestServer) -> None:
    docs = server.store.documents("entries", include_deleted=True)
    identifiers = Counter(d["identifier"] for d in docs)
    assert [i for i, n in identifiers.items() if n > 1] == []
    readings = Counter((d["device"], d["date"]) for d in docs)
    assert [r for r, n in readings.items() if n > 1] == []


async def test_twenty_accounts_land_once_and_restarts_with_overlapping_polls_write_nothing(
    pipeline: Pipeline, nightscout: NightscoutTestServer
) -> None:
    # Time stands still between the two polls, so the second one finds no new reading.
    clock = ManualClock(1_790_000_000_000)
    async with ShareSimulator(generate_accounts(20, seed=11), seed=11, clock=clock) as sim:
        await _start_roles(pipeline, nightscout, sim)
        await _poll_once(pipeline, clock)

        expected = {device_name("dexcomshare", stream_digest(a.account_id)) for a in sim.accounts}

        async def all_landed() -> bool:
            counts = _entries_by_device(nightscout)
            return set(counts) == expected and all(n == READINGS_PER_DAY for n in counts.values())

        await wait_until(all_landed, within=180, what="20 x 288 readings in Nightscout")
        _assert_each_reading_once(nightscout)
        await _settled(pipeline)
        writes = nightscout.stats.count(method="PUT")
        assert writes == 20 * READINGS_PER_DAY
        published = await records_in(pipeline.bootstrap, f"{pipeline.prefix}.ns.entries")
        assert published == 20 * READINGS_PER_DAY

        # Every process dies without warning; a new poll asks the same 24 h windows again.
        pipeline.kill("processor")
        pipeline.kill("sink")
        await _poll_once(pipeline, clock)
        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")
        await _settled(pipeline)
        assert nightscout.stats.count(method="PUT") == writes, "a re-poll caused writes"
        _assert_each_reading_once(nightscout)
        assert sum(_entries_by_device(nightscout).values()) == 20 * READINGS_PER_DAY
        # The processor's change filter held too: nothing new went downstream.
        assert await records_in(pipeline.bootstrap, f"{pipeline.prefix}.ns.entries") == published


async def test_a_two_hour_outage_is_backfilled_from_the_next_window(
    pipeline: Pipeline, nightscout: NightscoutTestServer
) -> None:
    clock = ManualClock(1_790_000_000_000)
    async with ShareSimulator(generate_accounts(1, seed=5), seed=5, clock=clock) as sim:
        await _start_roles(pipeline, nightscout, sim)
        await _poll_once(pipeline, clock)

        async def landed(count: int) -> bool:
            return sum(_entries_by_device(nightscout).values()) == count

        await wait_until(lambda: landed(READINGS_PER_DAY), within=120, what="the first day")

        # Two hours pass while Share is down; the outage lasts until it comes back.
        clock.advance(2 * 3600 * 1000)
        await sim.go_down(24 * 3600 * 1000, mode="unavailable")
        polling = asyncio.create_task(_poll_once(pipeline, clock))
        await asyncio.sleep(2)
        assert not polling.done(), "the poller gave up during the outage"
        await sim.come_back()
        await asyncio.wait_for(polling, timeout=scaled(60))

        await wait_until(
            lambda: landed(READINGS_PER_DAY + 24), within=120, what="the 2 h gap backfilled"
        )
        _assert_each_reading_once(nightscout)

"""The poller at run time, on the real broker against the Dexcom simulator (accelerated clock):
a role started again keeps working, and links come and go without stopping the others."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from nightstream.config import Settings, load_settings
from nightstream.roles import build_poll_source, build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.topics import TopicNames
from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.sources.runner import LinkState, Poller, PollerOptions
from nightstream.sources.simclock import AcceleratedClock
from tests.integration.pipeline import LinkSpec, Pipeline
from tests.integration.topic_records import read_topic

pytestmark = pytest.mark.kafka

SPEED = 300.0
"""Clock seconds per real one: a 5-minute poll interval passes in one real second."""
START_MS = 1_790_000_000_000
WITHIN_S = 60.0


class PollLog:
    """Every poll start, in order: the poller's observer."""

    def __init__(self) -> None:
        self.starts: list[str] = []
        self.on_start: Callable[[str], None] | None = None

    def poll_started(self, link_id: str, due_ms: int, now_ms: int) -> None:
        self.starts.append(link_id)
        if self.on_start is not None:
            self.on_start(link_id)

    def count(self) -> Counter[str]:
        return Counter(self.starts)


@pytest.fixture
async def sim() -> AsyncIterator[ShareSimulator]:
    clock = AcceleratedClock(SPEED, START_MS)
    async with ShareSimulator(generate_accounts(4, seed=9), seed=9, clock=clock) as simulator:
        yield simulator


def _settings(pipeline: Pipeline, sim: ShareSimulator) -> Settings:
    links = [
        LinkSpec(f"l{n}", a.username, a.password, a.region, sim.base_url(a.region))
        for n, a in enumerate(sim.accounts)
    ]
    pipeline.write_config({"ns": ("http://127.0.0.1:9", "t")}, links)
    return load_settings({}, pipeline.config)


def _poller(settings: Settings, sim: ShareSimulator, log: PollLog, ids: list[str]) -> Poller:
    options = PollerOptions(clock_speed=SPEED, retry=RetryPolicy(base=0.05, cap=0.2))
    poller = build_poller(settings, options, ids, clock=sim.clock.now_ms)
    poller.observer = log
    return poller


def _each_polled(log: PollLog, times: int) -> Callable[[], bool]:
    return lambda: len(log.count()) == 3 and min(log.count().values()) >= times


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WITHIN_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_role_run_again_polls_over_fresh_pools_and_keeps_its_sessions(
    kafka_bootstrap: str, tmp_path: Path, sim: ShareSimulator
) -> None:
    """What ``keep_running`` does after a Kafka outage: the same poller's ``run`` once more."""
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    settings = _settings(pipeline, sim)
    await pipeline.create_topics()
    log = PollLog()
    poller = _poller(settings, sim, log, ["l0", "l1", "l2"])
    for wanted in (1, 3):
        stop = asyncio.Event()
        running = asyncio.create_task(poller.run(stop))
        await _until(_each_polled(log, wanted), f"{wanted} poll(s) of each link")
        stop.set()
        await asyncio.wait_for(running, timeout=WITHIN_S)
    statuses = list(poller.status.values())
    assert all(s.state is LinkState.RUNNING and s.retries == 0 for s in statuses), statuses
    assert all(s.polls >= 3 for s in statuses)
    # The vendor sessions outlived the restart: one login per account, not one per run.
    counters = [sim.counters_for(a.username) for a in sim.accounts[:3]]
    assert [c.sessions_issued for c in counters] == [1, 1, 1]


async def test_links_are_added_and_removed_while_the_others_poll(
    kafka_bootstrap: str, tmp_path: Path, sim: ShareSimulator
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    settings = _settings(pipeline, sim)
    await pipeline.create_topics()
    log = PollLog()
    poller = _poller(settings, sim, log, ["l0", "l1"])
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    try:
        await _until(lambda: log.count()["l0"] >= 1 and log.count()["l1"] >= 1, "first polls")
        poller.add_link(build_poll_source(settings.link("l2"), sim.clock.now_ms, poller.pools))
        await _until(lambda: log.count()["l2"] >= 2, "the added link's polls")

        # Remove l0 while one of its polls is in flight: the poll ends first, cursor saved.
        sim.set_latency(0.3)
        removal: list[asyncio.Task[None]] = []

        def remove_l0(link_id: str) -> None:
            if link_id == "l0" and not removal:
                removal.append(asyncio.create_task(poller.remove_link("l0")))

        log.on_start = remove_l0
        await _until(lambda: bool(removal), "a poll of l0")
        await asyncio.wait_for(removal[0], timeout=WITHIN_S)
        assert "l0" not in poller.status
        polls_of_l0 = log.count()["l0"]
        sim.set_latency(0.0)
        later = log.count()["l1"] + 3
        await _until(lambda: log.count()["l1"] >= later, "more polls of the others")
        assert log.count()["l0"] == polls_of_l0
        assert poller.link_ids == ["l1", "l2"]
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=WITHIN_S)
    cursors = await read_topic(kafka_bootstrap, TopicNames(pipeline.prefix).cursors)
    assert Counter(r.key for r in cursors)[b"l0"] == polls_of_l0

"""A processor stopped while raw payloads pile up catches up with all of them when restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from nightstream.config import load_settings
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator, generate_accounts
from nightstream.sources.runner import PollerOptions
from tests.integration.history import DAY_MS, READINGS_PER_DAY, START_MS, process_everything
from tests.integration.pipeline import LinkSpec, Pipeline

pytestmark = pytest.mark.kafka


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path)
    yield running
    running.stop_all()


async def test_each_restart_processes_the_whole_backlog(pipeline: Pipeline) -> None:
    clock = ManualClock(START_MS)
    async with ShareSimulator(generate_accounts(1, seed=29), seed=29, clock=clock) as sim:
        account = sim.accounts[0]
        link = LinkSpec(
            "p1", account.username, account.password, account.region, sim.base_url(account.region)
        )
        pipeline.write_config(
            {"ns": ("http://127.0.0.1:9", "nightstream-0123456789abcdef")}, [link]
        )
        await pipeline.create_topics()
        settings = load_settings({}, pipeline.config)
        options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
        days = 0
        for backlog in (20, 10, 10, 10):
            for _ in range(backlog):
                clock.advance(DAY_MS)
                poller = build_poller(settings, options, clock=clock.now_ms)
                await poller.run(asyncio.Event())
            days += backlog
            await process_everything(pipeline, days * READINGS_PER_DAY)

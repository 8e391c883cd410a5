"""A patient's history in Kafka: simulated Dexcom Share days, polled and processed for real.

The simulator runs on a ``ManualClock``; the poller asks for the last 24 h once per simulated
day (the whole Share window), so each day adds 288 readings to the raw topic. Then
``nightstream process`` (a subprocess) turns them into ``ns.entries`` and is stopped again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from nightstream.config import load_settings
from nightstream.kafka_offsets import group_lag, records_in
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.identity import device_name, stream_digest
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator, generate_accounts
from nightstream.sources.runner import PollerOptions
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until

DAY_MS = 24 * 3600 * 1000
READINGS_PER_DAY = 288
START_MS = 1_790_000_000_000
PATIENT = "p1"
OTHER = "p2"


@dataclass(frozen=True)
class History:
    device: str
    """The patient's Nightscout ``device``."""
    readings: int
    """The patient's readings in ``ns.entries``."""
    other_readings: int
    """Readings of another patient (another link) in the same topics."""
    first_day_ms: int
    """Start of the first simulated day (the oldest reading is after it)."""


async def build_history(
    pipeline: Pipeline, target: tuple[str, str], *, days: int, other_days: int
) -> History:
    """``days`` of the patient and the last ``other_days`` of another, polled and processed."""
    clock = ManualClock(START_MS)
    accounts = generate_accounts(2, seed=23)
    async with ShareSimulator(accounts, seed=23, clock=clock) as sim:
        links = [
            LinkSpec(link, a.username, a.password, a.region, sim.base_url(a.region))
            for link, a in zip((PATIENT, OTHER), sim.accounts, strict=True)
        ]
        pipeline.write_config({"ns": target}, links)
        await pipeline.create_topics()
        settings = load_settings({}, pipeline.config)
        options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
        for day in range(days):
            clock.advance(DAY_MS)
            polled = [PATIENT, OTHER] if day >= days - other_days else [PATIENT]
            poller = build_poller(settings, options, polled, clock=clock.now_ms)
            await poller.run(asyncio.Event())
            assert {s.state for s in poller.status.values()} == {"done"}, poller.status
    readings = days * READINGS_PER_DAY
    other = other_days * READINGS_PER_DAY
    await process_everything(pipeline, readings + other)
    return History(
        device=device_name("dexcomshare", stream_digest(accounts[0].account_id)),
        readings=readings,
        other_readings=other,
        first_day_ms=START_MS,
    )


async def process_everything(pipeline: Pipeline, entries: int) -> None:
    """Run ``nightstream process`` until it emitted ``entries`` and committed, then stop it."""
    raw = [f"{pipeline.prefix}.raw.dexcomshare"]
    group = f"{pipeline.prefix}-processor"
    pipeline.start("processor", "process")

    async def processed() -> bool:
        emitted = await records_in(pipeline.bootstrap, f"{pipeline.prefix}.ns.entries")
        return emitted == entries and await group_lag(pipeline.bootstrap, group, raw) == 0

    await wait_until(processed, within=120, what=f"{entries} entries processed")
    pipeline.stop_all()

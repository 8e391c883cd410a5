"""The live readers let other tasks run after each batch they hand out.

aiokafka's ``getmany`` returns records it already holds without yielding to the event loop.
At 10,000 sites the buffered batches came back to back and every lane they woke ran in one
loop turn: the loop stood still for seconds, and the loop watch fenced every write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.topics import topic_catalog
from nightstream.sinks.nightscout.delivery.delivery_sink import (
    MAX_BATCH,
    DeliveryConfig,
    DeliverySink,
)
from nightstream.sinks.nightscout.delivery.site_writer import Outcome
from nightstream.sinks.nightscout.outcomes import WriteOutcome, WriteStatus
from nightstream.topics_admin import ensure_topics
from tests.integration.topic_records import bind_streams, produce_documents, sgv_entry
from tests.kafka_broker import KafkaNames
from tests.timing import scaled

pytestmark = pytest.mark.kafka

SITES = 100
READINGS_PER_SITE = 20
FIRST_MS = 1_790_000_000_000


def stream(site: int) -> str:
    return f"nightstream://dexcomshare/{site:012x}"


async def written(collection: Collection, records: Sequence[NsRecord]) -> list[Outcome]:
    """Every site acknowledges at once: what is measured is the sink's own loop."""
    return [WriteOutcome(WriteStatus.WRITTEN_CREATED, collection, r.identifier) for r in records]


async def test_other_tasks_run_between_the_batches_handed_out(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    prefix = kafka_names.name("yield")
    await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=1))
    await bind_streams(kafka_bootstrap, prefix, {f"link-{n}": stream(n) for n in range(SITES)})
    # Every reading before the sink starts: its first fetch holds all of them.
    await produce_documents(
        kafka_bootstrap,
        prefix,
        [
            sgv_entry(stream(n), FIRST_MS + i * 300_000, 100 + i)
            for i in range(READINGS_PER_SITE)
            for n in range(SITES)
        ],
    )
    total = SITES * READINGS_PER_SITE
    sites = {f"site-{n}": frozenset({f"link-{n}"}) for n in range(SITES)}
    config = DeliveryConfig(kafka_bootstrap, prefix, sites, state_dir=tmp_path)
    sink = DeliverySink(config, dict.fromkeys(sites, written))
    seen_read: set[int] = set()

    async def watch() -> None:
        """What another task of the loop sees of the live readers' progress."""
        while sink.read < total:
            seen_read.add(sink.read)
            await asyncio.sleep(0)
        seen_read.add(sink.read)

    stop = asyncio.Event()
    await sink.start()
    try:
        watching = asyncio.create_task(watch())
        running = asyncio.create_task(sink.run(stop))
        await asyncio.wait_for(watching, timeout=scaled(60))
        stop.set()
        await asyncio.wait_for(running, timeout=scaled(30))
    finally:
        await sink.stop()
    batches = [count for count in sorted(seen_read) if count]
    assert len(batches) >= total // MAX_BATCH, (
        f"{total} records came in batches of up to {MAX_BATCH}; another task saw the count at "
        f"only {batches}: batches were handed out without the loop running anything between"
    )

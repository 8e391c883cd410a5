"""The delivery sink's bounded run (what ``replay`` uses), on the real broker and a Nightscout
test server: it ends once everything up to the captured end offsets was answered and
committed, even when the last offset of a partition holds no document (a transaction marker
here; compaction leaves such gaps too), and its filter keeps documents out unwritten."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from nightstream.schemas.documents import Collection, to_avro
from nightstream.schemas.offset_bounds import capture_bounds
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.delivery.delivery_sink import DeliveryConfig, DeliverySink
from nightstream.sinks.nightscout.delivery.site_writer import site_writer
from nightstream.topics_admin import ensure_topics
from tests.integration.topic_records import bind_streams, produce_documents, sgv_entry
from tests.timing import scaled

pytestmark = pytest.mark.kafka

LINK = "p1"
STREAM = "nightstream://dexcomshare/0123456789ab"
START_MS = 1_790_000_000_000
READINGS = 120
CUTOFF_MS = START_MS + 100 * 300_000
UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]


async def _last_in_a_transaction(bootstrap: str, prefix: str) -> None:
    """One more reading, written in a transaction: its commit marker takes the last offset."""
    record = sgv_entry(STREAM, START_MS + READINGS * 300_000, 100)
    topic = TopicNames(prefix).ns(Collection.ENTRIES)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"t-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            value = make_serde(Collection.ENTRIES.schema_name, subject="t").encode(to_avro(record))
            await producer.send(topic, value, key=record.identifier.encode(), partition=0)
    finally:
        await producer.stop()


async def test_a_bounded_run_ends_after_a_gap_at_the_end_and_leaves_out_what_it_does_not_accept(
    kafka_bootstrap: str,
) -> None:
    prefix = f"bounded-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=1))
    await bind_streams(kafka_bootstrap, prefix, {LINK: STREAM})
    readings = [sgv_entry(STREAM, START_MS + n * 300_000, 100 + n) for n in range(READINGS)]
    await produce_documents(kafka_bootstrap, prefix, readings)
    await _last_in_a_transaction(kafka_bootstrap, prefix)

    group = f"{prefix}-bounded"
    topics = [TopicNames(prefix).ns(c) for c in Collection]
    bounds = await capture_bounds(kafka_bootstrap, topics, group)
    entries = TopicNames(prefix).ns(Collection.ENTRIES)
    assert [end for tp, end in bounds.end.items() if tp.topic == entries] == [READINGS + 2]

    server = NightscoutTestServer(api_secret=os.urandom(12).hex())
    await server.start()
    stop = asyncio.Event()
    try:
        token = server.create_access_token("bounded", permissions=UPLOADER)
        target = NightscoutTargetConfig(name="site", base_url=server.url, access_token=token)
        async with NightscoutClient(target, stop) as client:
            sink = DeliverySink(
                DeliveryConfig(
                    bootstrap_servers=kafka_bootstrap,
                    topic_prefix=prefix,
                    sites={"site": frozenset({LINK})},
                    group_id=group,
                ),
                {"site": site_writer(client)},
                accept=lambda record: int(record.document["date"]) >= CUTOFF_MS,
            )
            await sink.start()
            try:
                done = await asyncio.wait_for(sink.run(stop, until=bounds), scaled(60))
            finally:
                await sink.stop()
        assert done
        assert bounds.reached(sink.committed)
        outside = sum(1 for r in readings if int(r.document["date"]) < CUTOFF_MS)
        assert 0 < outside < READINGS
        assert sink.outside_window == outside
        assert server.store.count("entries") == READINGS + 1 - outside
        assert sink.lanes["site"].stats.written == READINGS + 1 - outside
    finally:
        await server.stop()

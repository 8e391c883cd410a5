"""A recreated or re-partitioned ``ns.*`` topic must not make the sink skip a real change.

Observed in the first release: the acknowledged table remembered ``@partition:offset``, which
outlives the topic; after a rebuild, a corrected document at offset 0 was judged older than the
one acknowledged and never written. Versions (when the vendor answer was fetched) order the
versions of a document whatever partition or topic carries them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from nightstream.config import load_settings
from nightstream.kafka_offsets import sink_backlog
from nightstream.roles import build_delivery_role
from nightstream.schemas.documents import Collection, NsRecord, to_avro
from nightstream.schemas.identity import entry_identifier
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.sinks.nightscout.site_stats import SinkStats
from nightstream.topics_admin import ensure_topics
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.integration.topic_records import bind_streams

pytestmark = pytest.mark.kafka

STREAM = "nightstream://dexcomshare/00aa11bb22cc"
FETCHED = 1_790_000_000_000
DATE = FETCHED - 600_000


def _reading(sgv: int, version: int, **extra: object) -> NsRecord:
    document = {
        "identifier": entry_identifier(STREAM, DATE, "sgv"),
        "device": STREAM,
        "date": DATE,
        "type": "sgv",
        "sgv": sgv,
        "app": "nightstream",
        **extra,
    }
    return NsRecord(Collection.ENTRIES, STREAM, document, version)


async def _produce(bootstrap: str, topic: str, records: list[NsRecord], partition: int) -> None:
    serde = make_serde("entry", subject=f"{topic}-value")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            value = serde.encode(to_avro(record))
            key = record.identifier.encode()
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


async def _recreate(bootstrap: str, topic: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()

    async def gone_and_back() -> bool:
        try:
            await ensure_topics(bootstrap, topic_catalog(prefix, partitions=3))
        except Exception:  # the deletion may still be under way: try again
            return False
        return True

    await wait_until(gone_and_back, within=60, what=f"{topic} to be recreated")


async def _more_partitions(bootstrap: str, topic: str, total: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        await admin.close()


async def _sink_until(
    pipeline: Pipeline, nightscout: NightscoutTestServer, sgv: int, topic: str
) -> SinkStats:
    """Run the site's sink until Nightscout holds ``sgv`` and the group has no lag."""
    settings = load_settings({}, pipeline.config)
    stats = SinkStats()
    stop = asyncio.Event()
    run = asyncio.create_task(build_delivery_role(settings, ["home"], stats={"home": stats})(stop))

    async def landed() -> bool:
        docs = nightscout.store.documents("entries")
        lag = await sink_backlog(pipeline.bootstrap, pipeline.prefix)
        return lag == 0 and [d["sgv"] for d in docs] == [sgv]

    try:
        await wait_until(landed, within=60, what=f"sgv {sgv} in Nightscout")
    finally:
        stop.set()
        await run
    return stats


async def test_a_corrected_document_in_a_rebuilt_or_repartitioned_topic_is_written(
    kafka_bootstrap: str, tmp_path: Path, nightscout: NightscoutTestServer
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    token = nightscout.create_access_token("sink", permissions=["api:*:create", "api:*:update"])
    link = LinkSpec("home-link", "u", "pw", "us", "http://127.0.0.1:9", targets=("home",))
    pipeline.write_config({"home": (nightscout.url, token)}, [link])
    await pipeline.create_topics()
    await bind_streams(kafka_bootstrap, pipeline.prefix, {"home-link": STREAM})
    topic = TopicNames(pipeline.prefix).ns(Collection.ENTRIES)

    # Two versions read in order; the later one is acknowledged at a high offset.
    filler = [_reading(90 + n, FETCHED - 10_000 + n) for n in range(5)]
    await _produce(kafka_bootstrap, topic, [*filler, _reading(120, FETCHED)], partition=0)
    await _sink_until(pipeline, nightscout, 120, topic)

    # The topic is rebuilt (reprocess after a transform fix): the corrected document, made
    # from the same vendor answer, now sits at offset 0.
    await _recreate(kafka_bootstrap, topic, pipeline.prefix)
    await _produce(kafka_bootstrap, topic, [_reading(121, FETCHED)], partition=0)
    stats = await _sink_until(pipeline, nightscout, 121, topic)
    assert stats.written == 1, stats
    assert stats.superseded == 0, stats

    # More partitions: a newer version lands in another partition, an older one is read after.
    await _more_partitions(kafka_bootstrap, topic, 6)
    report = await ensure_topics(kafka_bootstrap, topic_catalog(pipeline.prefix, partitions=3))
    [difference] = [str(d) for d in report.differences if d.topic == topic]
    assert "6 partitions, catalog says 3 (nothing is skipped" in difference
    await _produce(kafka_bootstrap, topic, [_reading(150, FETCHED + 300_000)], partition=5)
    await _sink_until(pipeline, nightscout, 150, topic)
    await _produce(kafka_bootstrap, topic, [_reading(99, FETCHED - 1)], partition=1)
    stats = await _sink_until(pipeline, nightscout, 150, topic)
    assert stats.superseded == 1, stats
    assert stats.written == 0, stats

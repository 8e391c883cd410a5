"""Catch-ups are written to the progress topic only when they changed: a plan (new partitions,
new routes) goes over every parked site, and re-saved each one's unchanged position."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.sinks.nightscout.delivery.progress_store import ProgressStore, SavedCatchUp
from nightstream.topics_admin import ensure_topics
from tests.integration.topic_records import read_topic
from tests.kafka_broker import KafkaNames

pytestmark = pytest.mark.kafka

TP = TopicPartition("p.ns.entries", 2)
PARKED = [SavedCatchUp(40, None, None)]


@pytest.fixture
async def topic(kafka_bootstrap: str, kafka_names: KafkaNames) -> str:
    prefix = kafka_names.name("progress")
    await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=1))
    return TopicNames(prefix).sink_progress


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await started.start()
    yield started
    await started.stop()


async def test_an_unchanged_catch_up_is_not_written_again(
    kafka_bootstrap: str, topic: str, producer: AIOKafkaProducer
) -> None:
    store = ProgressStore(kafka_bootstrap, topic, producer, "group")
    await store.load([TP])
    for _ in range(3):  # three plans while the site stays parked
        await store.save_catch_ups([("parked", TP, PARKED), ("live", TP, [])])
    assert len(await read_topic(kafka_bootstrap, topic)) == 1, "one write, no tombstone"

    await store.save_catch_ups([("parked", TP, [SavedCatchUp(55, None, None)])])
    await store.save_catch_ups([("parked", TP, [])])
    await store.save_catch_ups([("parked", TP, [])])
    values = [r.value for r in await read_topic(kafka_bootstrap, topic)]
    assert len(values) == 3, "moved once, then one tombstone"
    assert values[-1] is None

    # Another instance takes the partition over: it knows what the topic holds once loaded.
    await store.save_catch_ups([("parked", TP, PARKED)])
    other = ProgressStore(kafka_bootstrap, topic, producer, "group")
    assert (await other.load([TP]))[TP].catch_ups == {"parked": PARKED}
    await other.save_catch_ups([("parked", TP, PARKED)])
    assert len(await read_topic(kafka_bootstrap, topic)) == 4

    store.forget([TP])  # it went away from this one: saving writes again
    await store.save_catch_ups([("parked", TP, PARKED)])
    assert len(await read_topic(kafka_bootstrap, topic)) == 5

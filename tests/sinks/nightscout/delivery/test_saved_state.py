"""What the fan-out sink keeps on Kafka, on a real broker: a new process knows each site's
answers (hashes, 410 markers, where each version was read) and which streams' history each
site holds, per consumer group."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from nightstream.schemas.hash_store import LocalHashStore
from nightstream.schemas.topics import TopicSpec
from nightstream.sinks.nightscout.delivery.progress_store import ProgressStore
from nightstream.sinks.nightscout.delivery.site_acks import DELETED, SiteAcks
from nightstream.topics_admin import ensure_topics
from tests.integration.topic_records import sgv_entry

pytestmark = pytest.mark.kafka

STREAM = "nightstream://dexcomshare/0123456789ab"
DATE_MS = 1_790_000_000_000


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await started.start()
    yield started
    await started.stop()


async def _compacted(kafka_bootstrap: str, partitions: int) -> str:
    topic = f"saved-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, "json", partitions, "compact", -1)])
    return topic


async def test_a_new_process_knows_each_sites_answers_and_where_each_version_was_read(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    topic = await _compacted(kafka_bootstrap, 2)
    plain = sgv_entry(STREAM, DATE_MS, 120)
    deleted = sgv_entry(STREAM, DATE_MS + 300_000, 121)
    versioned = sgv_entry(STREAM, DATE_MS + 600_000, 122).at_version(50)
    first = SiteAcks(LocalHashStore(kafka_bootstrap, topic, producer, owner="sink"))
    first.partitions = 2
    try:
        await first.record(
            "home",
            [
                (plain, 1, 40, plain.content_hash),
                (deleted, 1, 41, DELETED + deleted.content_hash),
                (versioned, 1, 42, versioned.content_hash),
            ],
        )
    finally:
        first.store.close()

    # Another process, no local state: everything comes back from the changelog.
    acks = SiteAcks(LocalHashStore(kafka_bootstrap, topic, producer, owner="sink"))
    acks.partitions = 2
    try:
        await acks.store.assign([acks.changelog_partition(1)])
        answers = acks.answers("home", [plain, deleted, versioned])
        assert answers[plain.address].settles(plain)
        changed = sgv_entry(STREAM, DATE_MS, 130)
        assert not answers[plain.address].settles(changed)
        assert answers[deleted.address].settles(sgv_entry(STREAM, DATE_MS + 300_000, 99))
        # An older version on the same partition is superseded; a later one or another
        # partition (the topic was given more partitions) is not.
        assert answers[plain.address].supersedes(plain, 1, 39)
        assert not answers[plain.address].supersedes(plain, 1, 41)
        assert not answers[plain.address].supersedes(plain, 0, 10)
        # With versions, the version decides, whatever the offset (a rebuilt topic).
        assert answers[versioned.address].supersedes(versioned.at_version(49), 0, 5000)
        assert not answers[versioned.address].supersedes(versioned.at_version(51), 1, 0)
        assert acks.answers("elsewhere", [plain, deleted, versioned]) == {}
    finally:
        acks.store.close()


async def test_a_new_process_knows_which_streams_history_each_site_holds_per_group(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    topic = await _compacted(kafka_bootstrap, 1)
    tp, other = TopicPartition("t.ns.entries", 1), TopicPartition("t.ns.entries", 0)
    saving = ProgressStore(kafka_bootstrap, topic, producer, "t-sink")
    await saving.set_covered([("home", tp, STREAM), ("away", tp, STREAM)], [])
    await saving.set_covered([], [("away", tp, STREAM)])

    loaded = await ProgressStore(kafka_bootstrap, topic, producer, "t-sink").load([tp, other])
    assert loaded[tp].covered == {("home", STREAM)}
    assert loaded[other].covered == set()
    replay = await ProgressStore(kafka_bootstrap, topic, producer, "t-replay").load([tp])
    assert replay[tp].covered == set(), "another consumer group has its own coverage"

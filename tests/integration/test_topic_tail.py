"""``topics tail``: the newest records over every partition, of any topic nightstream makes."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaProducer

from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.topic_tail import TopicMissing, tail
from nightstream.topics_admin import ensure_topics
from tests.kafka_broker import KafkaNames

pytestmark = pytest.mark.kafka
T0 = 1_790_000_000_000


async def _produce(bootstrap: str, records: list[tuple[str, int, int, bytes | None]]) -> None:
    """``(topic, partition, timestamp_ms, value)`` each, keyed by its timestamp."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, partition, at, value in records:
            await producer.send_and_wait(
                topic, value, key=str(at).encode(), partition=partition, timestamp_ms=at
            )
    finally:
        await producer.stop()


def _shown(lines: list[str]) -> list[tuple[int, object]]:
    return [(json.loads(line)["timestamp"], json.loads(line)["value"]) for line in lines]


async def test_the_newest_records_over_all_partitions(
    kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    prefix = kafka_names.name("tail")
    await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=3))
    hashes = TopicNames(prefix).content_hashes
    # Partition 0 holds the oldest records and the newest one; partition 2 the middle ones.
    records: list[tuple[str, int, int, bytes | None]] = [
        (hashes, 0, T0 + n, json.dumps({"n": n}).encode()) for n in range(5)
    ]
    records += [(hashes, 2, T0 + 10 + n, json.dumps({"n": 10 + n}).encode()) for n in range(3)]
    records.append((hashes, 0, T0 + 20, None))
    await _produce(kafka_bootstrap, records)

    result = await tail(kafka_bootstrap, hashes, prefix, 4, None)
    assert _shown(result.lines) == [
        (T0 + 10, {"n": 10}),
        (T0 + 11, {"n": 11}),
        (T0 + 12, {"n": 12}),
        (T0 + 20, None),
    ]


async def test_a_json_topic_can_be_tailed_and_a_missing_one_is_refused(
    kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    prefix = kafka_names.name("tail")
    await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=1))
    progress = TopicNames(prefix).sink_progress
    await _produce(kafka_bootstrap, [(progress, 0, T0, b'{"site": "home"}')])
    result = await tail(kafka_bootstrap, progress, prefix, 5, None)
    assert _shown(result.lines) == [(T0, {"site": "home"})]
    with pytest.raises(TopicMissing):
        await tail(kafka_bootstrap, f"{prefix}.sink.gone", prefix, 5, None)
    with pytest.raises(KeyError):
        await tail(kafka_bootstrap, "not-ours", prefix, 5, None)

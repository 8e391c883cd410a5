"""The session's Kafka broker (tests/kafka_broker.py) works end to end with aiokafka."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.kafka_broker import KafkaBroker, KafkaNames

pytestmark = pytest.mark.kafka


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send_and_wait(topic, value, key=f"k{i}".encode())
    finally:
        await producer.stop()


async def take(consumer: Any, count: int) -> list[Any]:
    """Exactly ``count`` records, or TimeoutError."""
    records: list[Any] = []
    async with asyncio.timeout(30):
        while len(records) < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=count - len(records))
            for batch in batches.values():
                records.extend(batch)
    return records


def consumer_for(bootstrap: str, topic: str, group: str | None) -> Any:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


async def test_produce_then_consume(kafka_bootstrap: str, kafka_names: KafkaNames) -> None:
    topic = kafka_names.topic()
    await create_topic(kafka_bootstrap, topic)
    values = [f"reading-{i}".encode() for i in range(5)]
    await produce(kafka_bootstrap, topic, values)

    consumer = consumer_for(kafka_bootstrap, topic, group=None)
    await consumer.start()
    try:
        records = await take(consumer, len(values))
    finally:
        await consumer.stop()

    assert [r.value for r in records] == values
    assert [r.key for r in records] == [f"k{i}".encode() for i in range(5)]
    assert [r.offset for r in records] == list(range(5))


async def test_group_resumes_after_committed_offset(
    kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    topic, group = kafka_names.topic(), kafka_names.group()
    tp = TopicPartition(topic, 0)
    await create_topic(kafka_bootstrap, topic)
    values = [f"reading-{i}".encode() for i in range(6)]
    await produce(kafka_bootstrap, topic, values)

    first = consumer_for(kafka_bootstrap, topic, group)
    await first.start()
    try:
        head = await take(first, 3)
        await first.commit({tp: head[-1].offset + 1})
    finally:
        await first.stop()

    second = consumer_for(kafka_bootstrap, topic, group)
    await second.start()
    try:
        assert await second.committed(tp) == 3
        rest = await take(second, 3)
    finally:
        await second.stop()

    assert [r.value for r in head] == values[:3]
    assert [r.value for r in rest] == values[3:]


async def test_restart_keeps_data(kafka_broker: KafkaBroker, kafka_names: KafkaNames) -> None:
    if not kafka_broker.supports_restart:
        pytest.skip(f"restart needs the local broker, this session uses {kafka_broker.kind}")
    topic = kafka_names.topic()
    await create_topic(kafka_broker.bootstrap, topic)
    await produce(kafka_broker.bootstrap, topic, [b"before"])

    await kafka_broker.restart_async()

    await produce(kafka_broker.bootstrap, topic, [b"after"])
    consumer = consumer_for(kafka_broker.bootstrap, topic, group=None)
    await consumer.start()
    try:
        records = await take(consumer, 2)
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [b"before", b"after"]

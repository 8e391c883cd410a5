"""Records handed to Kafka a batch at a time, on the real broker: order, offsets, timestamps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from nightstream.schemas.compacted import read_records
from nightstream.schemas.partition_batches import PartitionBatches
from nightstream.schemas.topics import TopicSpec
from nightstream.topics_admin import ensure_topics

pytestmark = pytest.mark.kafka

BATCH_BYTES = 16 * 1024


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    # Idempotent with small batches, as the processor's but smaller: several per partition.
    started = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        max_batch_size=BATCH_BYTES,
    )
    await started.start()
    yield started
    await started.stop()


async def test_each_partition_gets_its_records_in_order_with_the_offsets_reported(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    topic = f"batches-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, "json", 2, "delete", -1)])
    # A record already in partition 1, so its offsets do not start at 0.
    await (await producer.send(topic, b"first", key=b"k", partition=1))
    batches = PartitionBatches(producer)
    value = b"v" * 1000
    for n in range(60):
        batches.add(topic, n % 2, f"{n:03d}".encode(), value, 1_700_000_000_000 + n)

    submitted = await batches.send()

    assert sum(s.count for s in submitted) == 60
    assert len(submitted) > 2, "60 KB in 16 KiB batches are several batches per partition"
    offsets: dict[int, list[int]] = {0: [], 1: []}
    for batch in submitted:
        offsets[batch.partition] += await batch.offsets()
    assert offsets == {0: list(range(30)), 1: list(range(1, 31))}
    records = await read_records(kafka_bootstrap, topic)
    by_partition = {
        p: [(r.offset, r.key, r.timestamp) for r in records if r.partition == p] for p in (0, 1)
    }
    assert by_partition[0] == [
        (n // 2, f"{n:03d}".encode(), 1_700_000_000_000 + n) for n in range(0, 60, 2)
    ]
    assert by_partition[1][1:] == [
        (n // 2 + 1, f"{n:03d}".encode(), 1_700_000_000_000 + n) for n in range(1, 60, 2)
    ]
    assert await batches.send() == [], "what was sent is not sent again"


async def test_many_callers_sending_to_one_partition_at_once_all_get_their_batch_in(
    kafka_bootstrap: str,
) -> None:
    """aiokafka's ``send_batch`` waits for the partition's previous batch to drain, but each
    waiter takes the whole time waited so far off its timeout at every wake-up: with a hundred
    sites recording answers at once, callers failed with KafkaTimeoutError within a second."""
    topic = f"batches-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, "json", 1, "delete", -1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", request_timeout_ms=2000, linger_ms=20
    )
    await producer.start()
    try:

        async def one_caller(n: int) -> int:
            batches = PartitionBatches(producer)
            batches.add(topic, 0, f"{n:03d}".encode(), b"v" * 200)
            [submitted] = await batches.send()
            return len(await submitted.offsets())

        counts = await asyncio.gather(*(one_caller(n) for n in range(200)))
    finally:
        await producer.stop()
    assert sum(counts) == 200
    assert len(await read_records(kafka_bootstrap, topic)) == 200

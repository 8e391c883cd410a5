"""Offsets as an operator sees them: records on a topic, and what a consumer group still owes."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import TopicPartition

from nightstream.schemas.compacted import partitions_of, read_latest
from nightstream.schemas.documents import Collection
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_admin, kafka_consumer
from nightstream.schemas.offset_bounds import committed_offsets
from nightstream.schemas.topics import TopicNames
from nightstream.sinks.nightscout.delivery.progress_store import catch_ups_under_way


async def records_in(bootstrap: Brokers, topic: str) -> int:
    consumer = kafka_consumer(bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        end = await consumer.end_offsets(partitions)
        start = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
    return sum(end[tp] - start[tp] for tp in partitions)


async def group_lag(bootstrap: Brokers, group: str, topics: Sequence[str]) -> int:
    """Records in ``topics`` that ``group`` has not committed yet."""
    admin = kafka_admin(bootstrap)
    await admin.start()
    try:
        committed = await committed_offsets(admin, group)
    finally:
        await admin.close()
    consumer = kafka_consumer(bootstrap)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in await partitions_of(bootstrap, t)
        ]
        end = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    lag = 0
    for tp in partitions:
        lag += end[tp] - committed.get(tp, 0)
    return lag


async def sink_backlog(bootstrap: Brokers, prefix: str, group: str | None = None) -> int:
    """What the sink still owes: document records its group has not committed, plus the
    catch-ups under way (sites parked, shed, or new to a stream), which the group's offsets
    do not show."""
    names = TopicNames(prefix)
    group = group or f"{prefix}-sink"
    lag = await group_lag(bootstrap, group, [names.ns(c) for c in Collection])
    saved = await read_latest(bootstrap, names.sink_progress)
    return lag + catch_ups_under_way(saved, group)

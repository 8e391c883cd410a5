"""Read a compacted topic from the beginning to its current end: the latest value per key.

Used to restore small state at start-up (poll cursors, a sink's acknowledged hashes).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import ConsumerRecord, TopicPartition

from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_admin, kafka_consumer


async def partitions_of(bootstrap_servers: Brokers, topic: str) -> list[int]:
    """The topic's partition numbers; empty when the topic does not exist."""
    admin = kafka_admin(bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry.get("topic") == topic and entry.get("error_code", 0) == 0:
            return sorted(p["partition"] for p in entry.get("partitions", []))
    return []


async def read_records(
    bootstrap_servers: Brokers, topic: str, only_partitions: Iterable[int] | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` (or of ``only_partitions``) from its beginning to the end
    offsets it had when the call began."""
    existing = await partitions_of(bootstrap_servers, topic)
    wanted = existing if only_partitions is None else sorted(set(only_partitions) & set(existing))
    partitions = [TopicPartition(topic, p) for p in wanted]
    records: list[ConsumerRecord[bytes, bytes]] = []
    if not partitions:
        return records
    consumer = kafka_consumer(bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if end[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batch.items():
                records += [m for m in messages if m.offset < end[tp]]
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return records


async def read_latest(
    bootstrap_servers: Brokers, topic: str, only_partitions: Iterable[int] | None = None
) -> dict[bytes, bytes]:
    """Latest value per key (keys whose latest value is a tombstone are left out), over all the
    topic's partitions or ``only_partitions``."""
    return latest_by_key(await read_records(bootstrap_servers, topic, only_partitions))


def latest_by_key(records: Iterable[ConsumerRecord[bytes, bytes]]) -> dict[bytes, bytes]:
    latest: dict[bytes, bytes] = {}
    for record in records:
        if record.key is None:
            continue
        if record.value is None:
            latest.pop(record.key, None)
        else:
            latest[record.key] = record.value
    return latest

"""A finite pass over live topics: per partition, where it starts and where it ends.

A replay or a reprocess run reads topics that keep growing. It captures, before it starts, the
end offset of every partition and where its consumer group will begin (the group's committed
offset, or the beginning of the partition), and stops once it has consumed up to those ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_admin, kafka_consumer


@dataclass(frozen=True)
class OffsetBounds:
    start: Mapping[TopicPartition, int]
    end: Mapping[TopicPartition, int]
    missing_topics: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Records between the start and the end positions, over every partition."""
        return sum(max(self.end[tp] - self.start[tp], 0) for tp in self.end)

    def done(self, positions: Mapping[TopicPartition, int]) -> int:
        """Records consumed so far, given the next offset to read per partition."""
        count = 0
        for tp, end in self.end.items():
            start = self.start[tp]
            if end > start:
                count += min(max(positions.get(tp, start), start), end) - start
        return count

    def reached(self, positions: Mapping[TopicPartition, int]) -> bool:
        """True once every partition has been consumed up to its end offset."""
        return all(positions.get(tp, self.start[tp]) >= end for tp, end in self.end.items())


async def committed_offsets(
    admin: AIOKafkaAdminClient, group_id: str, *, within: float = 30.0
) -> dict[TopicPartition, int]:
    """The group's committed offsets (none committed: empty). A fresh cluster has no group
    coordinator until ``__consumer_offsets`` exists, which the first lookup creates; wait for it."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            offsets = await admin.list_consumer_group_offsets(group_id)
        except GroupCoordinatorNotAvailableError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def capture_bounds(
    bootstrap_servers: Brokers, topics: Sequence[str], group_id: str | None = None
) -> OffsetBounds:
    """End offsets now, and the start of ``group_id`` (its commits, else the beginning)."""
    admin = kafka_admin(bootstrap_servers)
    await admin.start()
    try:
        # Only topics that exist: describing a missing one can make the broker create it.
        present = set(await admin.list_topics())
        described = await admin.describe_topics([t for t in topics if t in present])
        committed: dict[TopicPartition, int] = {}
        if group_id is not None:
            committed = await committed_offsets(admin, group_id)
    finally:
        await admin.close()
    numbers = {
        entry["topic"]: [p["partition"] for p in entry.get("partitions", [])]
        for entry in described
        if entry.get("error_code", 0) == 0
    }
    missing = tuple(t for t in topics if not numbers.get(t))
    partitions = [TopicPartition(t, n) for t in topics for n in sorted(numbers.get(t, []))]
    if not partitions:
        return OffsetBounds({}, {}, missing)
    consumer = kafka_consumer(bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        beginning = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    start = {tp: max(committed.get(tp, beginning[tp]), beginning[tp]) for tp in partitions}
    return OffsetBounds(start, {tp: end[tp] for tp in partitions}, missing)

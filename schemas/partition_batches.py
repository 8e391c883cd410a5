"""Records for partitions the caller chose, handed to aiokafka a whole Kafka batch at a time.

``AIOKafkaProducer.send`` costs two coroutines, a partitioner call and a future per record: for
the processor's documents and content hashes (two records per reading) that was about a tenth
of its time. Here a record is appended to its partition's own ``BatchBuilder`` (no await), and
``send`` submits the builders with ``send_batch``: one future per Kafka batch, whose base offset
gives each record's. The records of one partition keep their order: its batches are queued in
order and the idempotent producer numbers them as it numbers its own.

Callers of one producer take turns per partition to submit: ``send_batch`` waits for the
partition's previous batch to drain, and aiokafka 0.14 takes the whole time waited so far off a
waiter's timeout at each wake-up, so with a hundred callers waiting at once (a sink's sites
recording their answers) most failed with ``KafkaTimeoutError`` within a second.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata

from nightstream.schemas.fencing import check_lease


@dataclass
class _Partition:
    full: list[BatchBuilder] = field(default_factory=list)
    open: BatchBuilder | None = None


@dataclass(frozen=True)
class Submitted:
    """One Kafka batch handed to the producer: ``count`` records of ``topic[partition]``."""

    topic: str
    partition: int
    count: int
    acknowledged: asyncio.Future[RecordMetadata]

    async def offsets(self) -> range:
        """Once Kafka acknowledged the batch: its records' offsets, in the order added."""
        base = (await self.acknowledged).offset
        return range(base, base + self.count)


_Turns = defaultdict[tuple[str, int], asyncio.Lock]
_turns_by_producer: weakref.WeakKeyDictionary[AIOKafkaProducer, _Turns] = (
    weakref.WeakKeyDictionary()
)


def _turns(producer: AIOKafkaProducer) -> _Turns:
    turns = _turns_by_producer.get(producer)
    if turns is None:
        turns = _turns_by_producer[producer] = defaultdict(asyncio.Lock)
    return turns


class PartitionBatches:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitions: dict[tuple[str, int], _Partition] = {}
        self._turns = _turns(producer)

    def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue a record here (nothing is sent before ``send``); a timestamp of None is the
        time of adding, as ``producer.send`` does."""
        batches = self._partitions.setdefault((topic, partition), _Partition())
        if batches.open is not None and _append(batches.open, key, value, timestamp_ms):
            return
        if batches.open is not None:
            batches.full.append(batches.open)
        batches.open = self._producer.create_batch()
        # A builder's first record always fits: one larger than its size is a batch of its own.
        if not _append(batches.open, key, value, timestamp_ms):
            raise ValueError(f"a record for {topic}[{partition}] was refused by an empty batch")

    async def send(self) -> list[Submitted]:
        """Hand every queued batch to the producer (waiting only while it has a partition's
        earlier batch still to drain); what they hold is acknowledged by awaiting them."""
        submitted = []
        partitions, self._partitions = self._partitions, {}
        for (topic, partition), batches in partitions.items():
            builders = [*batches.full, *([batches.open] if batches.open is not None else [])]
            async with self._turns[topic, partition]:
                for builder in builders:
                    builder.close()
                    check_lease()
                    acknowledged = await self._producer.send_batch(
                        builder, topic, partition=partition
                    )
                    submitted.append(
                        Submitted(topic, partition, builder.record_count(), acknowledged)
                    )
        return submitted


def _append(
    builder: BatchBuilder, key: bytes | None, value: bytes | None, timestamp_ms: int | None
) -> bool:
    return builder.append(key=key, value=value, timestamp=timestamp_ms) is not None

"""The processor's content hashes on Kafka: ``collection/identifier -> hash`` in a compacted
changelog topic whose partition ``p`` holds the hashes of documents made from raw partition ``p``.

Records are JSON key and value, the format faust tables use, so a faust table over the same
topic would restore them. A record's Kafka timestamp is the document's date (capped at the time
of writing), which is what the processor's horizon expires entries by (``schemas.hash_store``);
an expired entry is a tombstone. Records written before this rule carry their write time, a
fair stand-in for the date of what was then new.

``ChangelogHashes`` holds a whole changelog in memory: ``nightstream reprocess`` uses it, a
one-off pass over every partition. The processor keeps its own on disk (``LocalHashStore``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaProducer

from nightstream.schemas.compacted import latest_by_key, partitions_of, read_records
from nightstream.schemas.fencing import check_lease
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.partition_batches import PartitionBatches


class HashEntry(NamedTuple):
    """One emitted document's hash, and its date (epoch ms) for the horizon."""

    address: str
    content_hash: str
    date_ms: int


def changelog_record(address: str, content_hash: str) -> tuple[bytes, bytes]:
    """Key and value as faust's ``json`` codec writes a table's changelog."""
    return json.dumps(address).encode(), json.dumps(content_hash).encode()


def changelog_timestamp(date_ms: int, now_ms: int) -> int:
    """The record timestamp for a document dated ``date_ms``: never in the future (brokers may
    refuse timestamps too far ahead), never before the epoch."""
    return max(0, min(date_ms, now_ms))


async def send_entries(
    producer: AIOKafkaProducer, topic: str, entries: Mapping[int, Sequence[HashEntry]]
) -> dict[int, list[int]]:
    """Write ``entries`` (by changelog partition) a Kafka batch at a time; return once Kafka has
    acknowledged them all, with their offsets."""
    check_lease()
    batches = PartitionBatches(producer)
    now_ms = time.time_ns() // 1_000_000
    for partition, rows in entries.items():
        for row in rows:
            key, value = changelog_record(row.address, row.content_hash)
            batches.add(topic, partition, key, value, changelog_timestamp(row.date_ms, now_ms))
    written: dict[int, list[int]] = {partition: [] for partition in entries}
    for submitted in await batches.send():
        written[submitted.partition] += await submitted.offsets()
    return written


class ChangelogHashes:
    def __init__(self, bootstrap_servers: Brokers, topic: str, producer: AIOKafkaProducer) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._producer = producer
        self._by_partition: dict[int, dict[str, str]] = {}

    def __len__(self) -> int:
        return sum(len(hashes) for hashes in self._by_partition.values())

    async def load(self, partitions: Iterable[int] | None = None) -> None:
        """Read ``partitions`` (default: all) from the changelog, replacing what was held."""
        if partitions is None:
            partitions = await partitions_of(self._bootstrap, self._topic)
        wanted = set(partitions)
        records = await read_records(self._bootstrap, self._topic, wanted)
        for partition in wanted:
            latest = latest_by_key(r for r in records if r.partition == partition)
            self._by_partition[partition] = {
                json.loads(key): json.loads(value) for key, value in latest.items()
            }

    def lookup(self, addresses: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for hashes in self._by_partition.values():
            for address in addresses:
                if address not in found and address in hashes:
                    found[address] = hashes[address]
        return found

    async def record(
        self, entries: Mapping[int, Sequence[HashEntry]], stream_times: Mapping[int, int]
    ) -> None:
        """Write ``entries`` to the changelog, then hold them (``stream_times`` is unused: a
        reprocess pass expires nothing)."""
        await send_entries(self._producer, self._topic, entries)
        for partition, rows in entries.items():
            hashes = self._by_partition.setdefault(partition, {})
            for row in rows:
                hashes[row.address] = row.content_hash

"""The processor's content hashes: ``collection/identifier -> hash``, kept in a compacted
changelog topic whose partition ``p`` holds the hashes of documents made from raw partition ``p``.

Records are JSON key and value, the format faust tables use, so a faust table over the same
topic would restore them. A processor loads the partitions of the raw partitions it is given;
``nightstream reprocess`` loads them all. A hash is written, and the write acknowledged, before
it counts as recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer

from schemas.compacted import latest_by_key, partitions_of, read_records
from schemas.fencing import check_lease


def changelog_record(address: str, content_hash: str) -> tuple[bytes, bytes]:
    """Key and value as faust's ``json`` codec writes a table's changelog."""
    return json.dumps(address).encode(), json.dumps(content_hash).encode()


class ChangelogHashes:
    def __init__(self, bootstrap_servers: str, topic: str, producer: AIOKafkaProducer) -> None:
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

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._by_partition.pop(partition, None)

    def get(self, address: str) -> str | None:
        for hashes in self._by_partition.values():
            found = hashes.get(address)
            if found is not None:
                return found
        return None

    async def record(self, entries: Sequence[tuple[str, str]], partition: int) -> None:
        check_lease()
        pending = []
        for address, content_hash in entries:
            key, value = changelog_record(address, content_hash)
            pending.append(
                await self._producer.send(self._topic, value, key=key, partition=partition)
            )
        await asyncio.gather(*pending)
        hashes = self._by_partition.setdefault(partition, {})
        for address, content_hash in entries:
            hashes[address] = content_hash

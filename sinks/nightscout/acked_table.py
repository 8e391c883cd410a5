"""Per-target memory of what Nightscout acknowledged: ``collection/identifier -> content hash``.

Backed by a compacted Kafka topic (the changelog), read back in full at start-up, so a restarted
or re-created sink still knows which documents the target already holds and skips them.
Markers other than a hash record a final answer from the server for that exact content:
``deleted:`` (410, the user deleted it; never resurrect) and ``rejected:`` (400/422, in the DLQ).

Each entry also remembers which version was acknowledged and where it was read
(``@partition:offset:v<version>``), so a sink that reads the topics again from the start (a new
consumer group, a replay) skips the older versions still waiting for compaction instead of
writing them over the newer one. Versions (when the vendor answer was fetched) still order the
versions of a document after its topic was recreated or given more partitions; offsets alone
would judge a corrected document at offset 0 of a rebuilt topic older than the one acknowledged.

The same changelog records which streams' history the target holds, per ``ns.*`` partition
(``route/<topic>/<partition>/<stream>``): a stream routed to the target later (a link added, a
link bound to its stream after its first documents went by) is not covered yet, and the sink
reads that partition's history again for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from nightstream.schemas.compacted import read_latest
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_admin, kafka_producer

DELETED = "deleted:"
REJECTED = "rejected:"
_ROUTE = "route/"
_COVERED = b"covered"


@dataclass(frozen=True)
class ReadAt:
    """Where and which version of a document was read: ``p:o`` or ``p:o:v<version>``."""

    partition: int
    offset: int
    version: int | None = None

    def encode(self) -> str:
        where = f"{self.partition}:{self.offset}"
        return where if self.version is None else f"{where}:v{self.version}"

    @classmethod
    def decode(cls, text: str) -> ReadAt | None:
        partition, _, rest = text.partition(":")
        offset, _, version = rest.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            return None
        number = version.removeprefix("v")
        return cls(int(partition), int(offset), int(number) if number.isdigit() else None)


Coverage = tuple[str, int, str]
"""``(topic, partition, stream)``: the stream's history in that partition reached the target."""


def _route_key(coverage: Coverage) -> bytes:
    topic, partition, stream = coverage
    return f"{_ROUTE}{topic}/{partition}/{stream}".encode()


class AckedTable:
    def __init__(self, bootstrap_servers: Brokers, topic: str, replication_factor: int = 1) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._replication_factor = replication_factor
        self._values: dict[str, str] = {}
        self._read_at: dict[str, ReadAt] = {}
        self._covered: set[Coverage] = set()
        self._producer: AIOKafkaProducer | None = None

    def __len__(self) -> int:
        return len(self._values)

    def get(self, address: str) -> str | None:
        return self._values.get(address)

    def is_settled(self, address: str, content_hash: str) -> bool:
        """True when the target already answered for this exact content, or deleted the doc."""
        known = self._values.get(address)
        if known is None:
            return False
        return known in (content_hash, REJECTED + content_hash) or known.startswith(DELETED)

    def is_superseded(self, address: str, read_at: ReadAt) -> bool:
        """True when the target acknowledged a newer version than the one read at ``read_at``.

        Versions (when the vendor answer was fetched) compare across partitions and topic
        rebuilds; records written before versions existed fall back to offsets in one partition.
        """
        known = self._read_at.get(address)
        if known is None:
            return False
        if known.version is not None and read_at.version is not None:
            return known.version > read_at.version
        return known.partition == read_at.partition and known.offset > read_at.offset

    def is_covered(self, topic: str, partition: int, stream: str) -> bool:
        return (topic, partition, stream) in self._covered

    def covered_streams(self, topic: str, partition: int) -> set[str]:
        return {s for t, p, s in self._covered if t == topic and p == partition}

    async def set_coverage(self, add: Iterable[Coverage], remove: Iterable[Coverage]) -> None:
        """Persist coverage changes (removals as tombstones) and wait for Kafka's answer."""
        assert self._producer is not None, "start() first"
        pending = []
        for coverage in add:
            key = _route_key(coverage)
            pending.append(await self._producer.send(self.topic, key=key, value=_COVERED))
            self._covered.add(coverage)
        for coverage in remove:
            key = _route_key(coverage)
            pending.append(await self._producer.send(self.topic, key=key, value=None))
            self._covered.discard(coverage)
        if pending:
            await asyncio.gather(*pending)

    async def start(self) -> None:
        await self._ensure_topic()
        await self._restore()
        self._producer = kafka_producer(
            self._bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def record(
        self, entries: Iterable[tuple[str, str]], read_at: Mapping[str, ReadAt] | None = None
    ) -> None:
        """Persist entries (with where each version was read, when known) and wait until Kafka
        acknowledged all of them."""
        assert self._producer is not None, "start() first"
        pending = []
        for address, value in entries:
            where = (read_at or {}).get(address)
            stored = value if where is None else f"{value}@{where.encode()}"
            pending.append(
                await self._producer.send(self.topic, key=address.encode(), value=stored.encode())
            )
            self._remember(address, stored)
        if pending:
            await asyncio.gather(*pending)

    async def _ensure_topic(self) -> None:
        admin = kafka_admin(self._bootstrap)
        await admin.start()
        try:
            if self.topic not in await admin.list_topics():
                topic = NewTopic(
                    self.topic, 1, self._replication_factor, None, {"cleanup.policy": "compact"}
                )
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([topic])
        finally:
            await admin.close()

    async def _restore(self) -> None:
        for key, value in (await read_latest(self._bootstrap, self.topic)).items():
            text = key.decode()
            if text.startswith(_ROUTE):
                topic, _, rest = text.removeprefix(_ROUTE).partition("/")
                partition, _, stream = rest.partition("/")
                if partition.isdigit() and stream:
                    self._covered.add((topic, int(partition), stream))
                continue
            self._remember(text, value.decode())

    def _remember(self, address: str, stored: str) -> None:
        value, _, where = stored.partition("@")
        self._values[address] = value
        read_at = ReadAt.decode(where)
        if read_at is None:
            self._read_at.pop(address, None)
        else:
            self._read_at[address] = read_at

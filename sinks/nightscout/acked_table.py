"""Per-target memory of what Nightscout acknowledged: ``collection/identifier -> content hash``.

Backed by a compacted Kafka topic (the changelog), read back in full at start-up, so a restarted
or re-created sink still knows which documents the target already holds and skips them.
Markers other than a hash record a final answer from the server for that exact content:
``deleted:`` (410, the user deleted it; never resurrect) and ``rejected:`` (400/422, in the DLQ).

Each entry also remembers where the acknowledged version was read (``@partition:offset``), so a
sink that reads the topics again from the start (a new consumer group, a replay) skips the older
versions still waiting for compaction instead of writing them over the newer one.

The same changelog records which streams' history the target holds, per ``ns.*`` partition
(``route/<topic>/<partition>/<stream>``): a stream routed to the target later (a link added, a
link bound to its stream after its first documents went by) is not covered yet, and the sink
reads that partition's history again for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.compacted import read_latest

DELETED = "deleted:"
REJECTED = "rejected:"
_ROUTE = "route/"
_COVERED = b"covered"

Coverage = tuple[str, int, str]
"""``(topic, partition, stream)``: the stream's history in that partition reached the target."""


def _route_key(coverage: Coverage) -> bytes:
    topic, partition, stream = coverage
    return f"{_ROUTE}{topic}/{partition}/{stream}".encode()


class AckedTable:
    def __init__(self, bootstrap_servers: str, topic: str, replication_factor: int = 1) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._replication_factor = replication_factor
        self._values: dict[str, str] = {}
        self._positions: dict[str, tuple[int, int]] = {}
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

    def is_superseded(self, address: str, partition: int, offset: int) -> bool:
        """True when the target acknowledged a version read later from the same partition."""
        known = self._positions.get(address)
        return known is not None and known[0] == partition and known[1] > offset

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
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def record(
        self,
        entries: Iterable[tuple[str, str]],
        positions: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """Persist entries (with where each version was read, when known) and wait until Kafka
        acknowledged all of them."""
        assert self._producer is not None, "start() first"
        pending = []
        for address, value in entries:
            position = (positions or {}).get(address)
            stored = value if position is None else f"{value}@{position[0]}:{position[1]}"
            pending.append(
                await self._producer.send(self.topic, key=address.encode(), value=stored.encode())
            )
            self._remember(address, stored)
        if pending:
            await asyncio.gather(*pending)

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
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
        partition, _, offset = where.partition(":")
        if partition.isdigit() and offset.isdigit():
            self._positions[address] = (int(partition), int(offset))
        else:
            self._positions.pop(address, None)

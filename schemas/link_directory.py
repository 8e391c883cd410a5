"""Every link's vendor and targets, from the links topic, followed as it changes.

For the stages that route by link (sinks, the processor's vendor topics): unlike the pollers,
each reader reads every partition (no consumer group). Credentials stay encrypted and unused.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import TopicPartition

from nightstream.schemas.compacted import partitions_of
from nightstream.schemas.errors import RecordDecodeError
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer
from nightstream.schemas.records import LinkRecord
from nightstream.schemas.serde import Serde

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectoryEntry:
    vendor: str
    targets: frozenset[str]


class LinkDirectory:
    def __init__(self, bootstrap_servers: Brokers, topic: str, serde: Serde) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._serde = serde
        self._entries: dict[str, DirectoryEntry] = {}
        self._by_target: dict[str, set[str]] = {}
        """target -> its link ids: a sink asks for each of its thousands of sites, every sync."""
        self.version = 0
        """Counts the changes applied (a sink redoes its routes only when it moved)."""
        self.ready = asyncio.Event()
        """Set once the topic was read up to the end it had when ``run`` began."""

    def get(self, link_id: str) -> DirectoryEntry | None:
        return self._entries.get(link_id)

    def links_of(self, target: str) -> frozenset[str]:
        return frozenset(self._by_target.get(target, ()))

    def _set(self, link_id: str, entry: DirectoryEntry | None) -> None:
        self.version += 1
        old = self._entries.pop(link_id, None)
        for target in old.targets if old is not None else ():
            links = self._by_target[target]
            links.discard(link_id)
            if not links:
                del self._by_target[target]
        if entry is not None:
            self._entries[link_id] = entry
            for target in entry.targets:
                self._by_target.setdefault(target, set()).add(link_id)

    def vendors(self) -> frozenset[str]:
        return frozenset(e.vendor for e in self._entries.values())

    async def run(self, stop: asyncio.Event, fetch_timeout_ms: int = 1000) -> None:
        partitions = [
            TopicPartition(self.topic, p) for p in await partitions_of(self._bootstrap, self.topic)
        ]
        consumer = kafka_consumer(self._bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            if not partitions:
                logger.warning("no topic %s: no links from it", self.topic)
                self.ready.set()
                await stop.wait()
                return
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=fetch_timeout_ms)
                for records in batch.values():
                    for record in records:
                        self._apply(record.key, record.value, record.partition, record.offset)
                if not self.ready.is_set():
                    positions = [await consumer.position(tp) for tp in partitions]
                    if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                        self.ready.set()
        finally:
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None, partition: int, offset: int) -> None:
        if key is None:
            return
        link_id = key.decode(errors="replace")
        if value is None:
            self._set(link_id, None)
            return
        try:
            link = LinkRecord.from_avro(
                self._serde.decode(value, topic=self.topic, partition=partition, offset=offset)
            )
        except RecordDecodeError as exc:
            logger.error("link %s: unreadable version, not routed: %s", link_id, exc)
            self._set(link_id, None)
            return
        self._set(link_id, DirectoryEntry(link.vendor, frozenset(link.targets)))

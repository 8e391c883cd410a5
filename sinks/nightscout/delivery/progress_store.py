"""Where sites stand that the live readers do not carry: catch-ups, and streams' coverage.

A compacted topic (``<prefix>.sink.progress``), JSON keys and values, small: per sink consumer
group, an entry per (site, partition) with a catch-up under way, and one per (site, partition,
stream) whose history the site holds. Entries are the group's own: what a group's live readers
went past says nothing about another group's. The instance that owns a partition writes its
entries; the next owner reads them when the partition comes to it (the previous owner writes
them before it lets the partition go, or at least every few seconds before it died).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from nightstream.schemas.compacted import read_latest
from nightstream.schemas.kafka_access import Brokers


@dataclass(frozen=True)
class SavedCatchUp:
    start: int
    until: int | None
    streams: frozenset[str] | None

    def to_json(self) -> dict[str, Any]:
        streams = None if self.streams is None else sorted(self.streams)
        return {"start": self.start, "until": self.until, "streams": streams}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SavedCatchUp:
        streams = value.get("streams")
        return cls(
            int(value["start"]),
            None if value.get("until") is None else int(value["until"]),
            None if streams is None else frozenset(streams),
        )


Coverage = tuple[str, TopicPartition, str]
"""``(site, partition, stream)``: the stream's history in that partition reached the site."""


@dataclass
class PartitionProgress:
    catch_ups: dict[str, list[SavedCatchUp]]
    """Per site."""
    covered: set[tuple[str, str]]
    """``(site, stream)``."""


def catch_up_key(group: str, site: str, tp: TopicPartition) -> bytes:
    return json.dumps(["catch-up", group, site, tp.topic, tp.partition]).encode()


def _covered_key(group: str, coverage: Coverage) -> bytes:
    site, tp, stream = coverage
    return json.dumps(["covered", group, site, tp.topic, tp.partition, stream]).encode()


def catch_ups_under_way(saved: dict[bytes, bytes], group: str) -> int:
    """Catch-ups of ``group`` among the latest values of the progress topic."""
    return sum(1 for key in saved if json.loads(key)[:2] == ["catch-up", group])


class ProgressStore:
    def __init__(
        self, bootstrap_servers: Brokers, topic: str, producer: AIOKafkaProducer, group: str
    ) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._producer = producer
        self._group = group
        self._written: dict[tuple[str, TopicPartition], list[SavedCatchUp]] = {}
        """What the topic holds for each site's catch-ups of a partition loaded or written here
        (absent: none), so an unchanged value is not written again."""

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Another instance may write these now: what they hold is known again once loaded."""
        gone = set(partitions)
        self._written = {k: v for k, v in self._written.items() if k[1] not in gone}

    async def load(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, PartitionProgress]:
        wanted = set(partitions)
        found = {tp: PartitionProgress({}, set()) for tp in wanted}
        self.forget(wanted)
        for key, value in (await read_latest(self._bootstrap, self.topic)).items():
            kind, group, site, topic, partition, *rest = json.loads(key)
            tp = TopicPartition(topic, int(partition))
            if group != self._group or tp not in wanted:
                continue
            if kind == "catch-up":
                saved = [SavedCatchUp.from_json(v) for v in json.loads(value)]
                found[tp].catch_ups[site] = saved
                self._written[(site, tp)] = saved
            elif kind == "covered" and rest:
                found[tp].covered.add((site, rest[0]))
        return found

    async def save_catch_ups(
        self, entries: Iterable[tuple[str, TopicPartition, list[SavedCatchUp]]]
    ) -> None:
        """Write each site's catch-ups of a partition (none: a tombstone) unless the topic
        holds that already; wait for Kafka."""
        pending = []
        changed = []
        for site, tp, saved in entries:
            if self._written.get((site, tp), []) == saved:
                continue
            value = json.dumps([s.to_json() for s in saved]).encode() if saved else None
            pending.append(
                await self._producer.send(
                    self.topic, value, key=catch_up_key(self._group, site, tp)
                )
            )
            changed.append((site, tp, saved))
        for future in pending:
            await future
        for site, tp, saved in changed:
            if saved:
                self._written[(site, tp)] = list(saved)
            else:
                self._written.pop((site, tp), None)

    async def set_covered(self, add: Iterable[Coverage], remove: Iterable[Coverage]) -> None:
        pending = [
            await self._producer.send(self.topic, b"1", key=_covered_key(self._group, c))
            for c in add
        ] + [
            await self._producer.send(self.topic, None, key=_covered_key(self._group, c))
            for c in remove
        ]
        for future in pending:
            await future

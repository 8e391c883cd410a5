"""Read and write the links and link-status topics (for ``nightstream links``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nightstream.config import KafkaSettings
from nightstream.kafka_security import kafka_access
from nightstream.schemas.compacted import partitions_of, read_latest
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.kafka_clients import kafka_producer
from nightstream.schemas.records import LinkRecord, LinkStatusRecord
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames


class LinkStore:
    def __init__(self, kafka: KafkaSettings, registry: SchemaRegistryClient | None) -> None:
        self._bootstrap = kafka_access(kafka)
        names = TopicNames(kafka.topic_prefix)
        self.links_topic = names.links
        self.status_topic = names.link_status
        self._links = make_serde("link", subject=f"{names.links}-value", registry=registry)
        self._status = make_serde(
            "link_status", subject=f"{names.link_status}-value", registry=registry
        )

    async def links(self) -> dict[str, LinkRecord]:
        latest = await read_latest(self._bootstrap, self.links_topic)
        records = (
            LinkRecord.from_avro(self._links.decode(value, topic=self.links_topic))
            for value in latest.values()
        )
        return {record.id: record for record in records}

    async def statuses(self) -> dict[str, LinkStatusRecord]:
        latest = await read_latest(self._bootstrap, self.status_topic)
        records = (
            LinkStatusRecord.from_avro(self._status.decode(value, topic=self.status_topic))
            for value in latest.values()
        )
        return {record.link_id: record for record in records}

    async def require_topics(self) -> None:
        for topic in (self.links_topic, self.status_topic):
            if not await partitions_of(self._bootstrap, topic):
                raise NightstreamError(
                    f"topic {topic} does not exist: run `nightstream topics create` first"
                )

    async def put(self, records: Sequence[LinkRecord]) -> None:
        await self._send(
            [(r.id, self.links_topic, self._links.encode(r.to_avro())) for r in records]
        )

    async def delete(self, link_id: str) -> None:
        """Tombstones for the link and its status."""
        await self._send([(link_id, self.links_topic, None), (link_id, self.status_topic, None)])

    async def _send(self, items: Sequence[tuple[str, str, bytes | None]]) -> None:
        await self.require_topics()
        producer = kafka_producer(self._bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            sent = [
                await producer.send(topic, key=key.encode(), value=value)
                for key, topic, value in items
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

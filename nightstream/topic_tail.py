"""Read the newest records of a topic and show them as JSON, decoded with the project's schemas."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from nightstream.schemas.catalog import SCHEMA_NAMES
from nightstream.schemas.compacted import partitions_of
from nightstream.schemas.documents import Collection, from_avro
from nightstream.schemas.errors import NightstreamError, RecordDecodeError
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import topic_catalog

Decoder = Callable[[bytes, int, int], Any]


class TopicMissing(NightstreamError):
    """The topic to tail does not exist."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _plain(value: bytes, _partition: int, _offset: int) -> Any:
    """Values that are not Avro: the processor's and the sink's JSON tables, for instance."""
    try:
        return json.loads(value)
    except ValueError:
        return _jsonable(value)


def decoder_for(topic: str, prefix: str, registry: SchemaRegistryClient | None) -> Decoder:
    """How to show ``topic``'s values: any topic nightstream makes under ``prefix``."""
    specs = {s.name: s for s in topic_catalog(prefix)}
    spec = specs.get(topic)
    if spec is None or spec.schema_name not in SCHEMA_NAMES:
        if not topic.startswith(f"{prefix}."):
            raise KeyError(f"{topic} is not one of nightstream's topics (prefix {prefix!r})")
        return _plain
    serde = make_serde(spec.schema_name, subject=f"{topic}-value", registry=registry)
    collection = {c.schema_name: c for c in Collection}.get(spec.schema_name)

    def decode(value: bytes, partition: int, offset: int) -> Any:
        record = serde.decode(value, topic=topic, partition=partition, offset=offset)
        if collection is not None:
            ns = from_avro(collection, record)
            return {"stream": ns.stream, "document": ns.document}
        return _jsonable(record)

    return decode


@dataclass(frozen=True)
class TailResult:
    topic: str
    lines: list[str]
    """The newest records over every partition, oldest first, one JSON object each."""


def _shown(record: ConsumerRecord[bytes, bytes], decode: Decoder) -> str:
    value: Any = None  # a tombstone
    if record.value is not None:
        try:
            value = decode(record.value, record.partition, record.offset)
        except RecordDecodeError as exc:
            value = {"undecodable": str(exc)}
    key = record.key.decode("utf-8", "replace") if record.key else None
    shown = {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": key,
        "value": value,
    }
    return json.dumps(shown, ensure_ascii=False)


async def _read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer.seek(tp, start)
    records: list[ConsumerRecord[bytes, bytes]] = []
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        records += [m for m in batch.get(tp, []) if m.offset < end]
    return records


async def _newest_of_partition(
    consumer: AIOKafkaConsumer, tp: TopicPartition, begin: int, end: int, limit: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """The last ``limit`` records before ``end``; reads further back where compaction left gaps."""
    window = limit
    while True:
        start = max(end - window, begin)
        records = await _read_range(consumer, tp, start, end)
        if len(records) >= limit or start == begin:
            return records[-limit:]
        window *= 2


async def tail(
    bootstrap: Brokers, topic: str, prefix: str, limit: int, registry: SchemaRegistryClient | None
) -> TailResult:
    """The newest ``limit`` records of ``topic`` over all its partitions (by record time)."""
    decode = decoder_for(topic, prefix, registry)
    numbers = await partitions_of(bootstrap, topic)
    if not numbers:
        raise TopicMissing(
            f"topic {topic} does not exist: `nightstream topics list` shows nightstream's topics"
        )
    partitions = [TopicPartition(topic, p) for p in numbers]
    consumer = kafka_consumer(bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(partitions)
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            if end[tp] > begin[tp]:
                records += await _newest_of_partition(consumer, tp, begin[tp], end[tp], limit)
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
    return TailResult(topic, [_shown(r, decode) for r in records[-limit:]])

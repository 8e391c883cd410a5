"""Read the last records of a topic and show them as JSON, decoded with the project's schemas."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.compacted import partitions_of
from schemas.documents import Collection, from_avro
from schemas.errors import RecordDecodeError
from schemas.registry import SchemaRegistryClient
from schemas.serde import make_serde
from schemas.topics import topic_catalog


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def decoder_for(
    topic: str, prefix: str, registry: SchemaRegistryClient | None
) -> Callable[[bytes, int, int], Any]:
    specs = {s.name: s for s in topic_catalog(prefix)}
    spec = specs.get(topic)
    if spec is None:
        raise KeyError(f"{topic} is not in the catalog for prefix {prefix!r}")
    serde = make_serde(spec.schema_name, subject=f"{topic}-value", registry=registry)
    collections = {c.schema_name: c for c in Collection}

    def decode(value: bytes, partition: int, offset: int) -> Any:
        record = serde.decode(value, topic=topic, partition=partition, offset=offset)
        collection = collections.get(spec.schema_name)
        if collection is not None:
            ns = from_avro(collection, record)
            return {"stream": ns.stream, "document": ns.document}
        return _jsonable(record)

    return decode


async def tail(
    bootstrap: str, topic: str, prefix: str, limit: int, registry: SchemaRegistryClient | None
) -> list[str]:
    decode = decoder_for(topic, prefix, registry)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    lines: list[str] = []
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        if not partitions:
            return [f"topic {topic} does not exist"]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(end[tp] - limit, 0))
        pending = {tp for tp in partitions if end[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    try:
                        shown = decode(m.value, m.partition, m.offset)
                    except RecordDecodeError as exc:
                        shown = {"undecodable": str(exc)}
                    key = m.key.decode("utf-8", "replace") if m.key else None
                    lines.append(
                        json.dumps(
                            {
                                "partition": tp.partition,
                                "offset": m.offset,
                                "key": key,
                                "value": shown,
                            },
                            ensure_ascii=False,
                        )
                    )
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return lines[-limit:]

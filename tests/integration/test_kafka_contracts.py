"""Avro records through the real broker: transactions, compaction, the topic catalog."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nightstream.schemas.documents import Collection, NsRecord, from_avro, to_avro
from nightstream.schemas.identity import entry_identifier
from nightstream.schemas.records import RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import topic_catalog
from nightstream.topics_admin import ensure_topics
from tests.kafka_broker import unique_name
from tests.timing import scaled

pytestmark = pytest.mark.kafka


async def _create(bootstrap: str, topic: str, configs: dict[str, str] | None = None) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1, None, configs or {})])
    finally:
        await admin.close()


async def _drain(consumer: AIOKafkaConsumer, idle_ms: int = 1500) -> list[Any]:
    records: list[Any] = []
    while True:
        batch = await consumer.getmany(timeout_ms=idle_ms)
        if not batch:
            return records
        for messages in batch.values():
            records.extend(messages)


def _raw(link: str, n: int) -> RawPayload:
    return RawPayload(link, "dexcomshare", "e", n, 200, f"[{n}]".encode(), "test")


async def test_aborted_transactions_are_never_seen_by_read_committed(kafka_bootstrap: str) -> None:
    topic = unique_name("tx")
    await _create(kafka_bootstrap, topic)
    serde = make_serde("raw_payload", subject=f"{topic}-value")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=unique_name("txid")
    )
    await producer.start()
    try:
        async with producer.transaction():
            for n in range(3):
                await producer.send(topic, serde.encode(_raw("committed", n).to_avro()), key=b"a")
        await producer.begin_transaction()
        for n in range(3):
            await producer.send(topic, serde.encode(_raw("aborted", n).to_avro()), key=b"a")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, serde.encode(_raw("committed", 3).to_avro()), key=b"a")
    finally:
        await producer.stop()

    async def read(isolation: str) -> list[RawPayload]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            isolation_level=isolation,
            group_id=None,
        )
        await consumer.start()
        try:
            return [RawPayload.from_avro(serde.decode(m.value)) for m in await _drain(consumer)]
        finally:
            await consumer.stop()

    committed = await read("read_committed")
    assert [(r.link_id, r.fetched_at_ms) for r in committed] == [
        ("committed", 0),
        ("committed", 1),
        ("committed", 2),
        ("committed", 3),
    ]
    # The aborted records are in the log: only the isolation level hides them.
    uncommitted = await read("read_uncommitted")
    assert sum(r.link_id == "aborted" for r in uncommitted) == 3


async def test_a_compacted_topic_keeps_the_latest_value_per_key(kafka_bootstrap: str) -> None:
    topic = unique_name("compact")
    await _create(
        kafka_bootstrap,
        topic,
        {
            "cleanup.policy": "compact",
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.001",
            "max.compaction.lag.ms": "100",
            "delete.retention.ms": "100",
        },
    )
    serde = make_serde("entry", subject=f"{topic}-value")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    identifiers = [
        entry_identifier("dev", 1_700_000_000_000 + i * 300_000, "sgv") for i in range(5)
    ]
    try:
        for version in range(4):
            for i, identifier in enumerate(identifiers):
                doc = {
                    "identifier": identifier,
                    "device": "dev",
                    "type": "sgv",
                    "date": 1_700_000_000_000 + i * 300_000,
                    "sgv": 100 + version,
                }
                value = serde.encode(to_avro(NsRecord(Collection.ENTRIES, "l", doc)))
                await producer.send_and_wait(topic, value, key=identifier.encode())
            await asyncio.sleep(0.3)  # let segments roll so older versions become cleanable
        # a last write rolls the active segment past the earlier ones
        await producer.send_and_wait(topic, b"", key=b"roll")
    finally:
        await producer.stop()

    tp = TopicPartition(topic, 0)
    deadline = asyncio.get_running_loop().time() + scaled(60)
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None)
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            records = [m for m in await _drain(consumer, 800) if m.key != b"roll"]
        finally:
            await consumer.stop()
        if len(records) == len(identifiers) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(1)
    latest = {m.key.decode(): from_avro(Collection.ENTRIES, serde.decode(m.value)) for m in records}
    assert len(records) == len(identifiers), f"compaction left {len(records)} records"
    assert set(latest) == set(identifiers)
    assert {r.document["sgv"] for r in latest.values()} == {103}


async def test_topics_create_is_idempotent_and_reports_differences(kafka_bootstrap: str) -> None:
    prefix = unique_name("catalog")
    first = await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=2))
    assert len(first.created) == len(topic_catalog(prefix))
    assert first.differences == []
    again = await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=2))
    assert again.created == []
    assert again.differences == []
    changed = await ensure_topics(kafka_bootstrap, topic_catalog(prefix, partitions=3))
    assert changed.created == []
    [difference] = [d for d in changed.differences if d.topic == f"{prefix}.ns.entries"]
    assert str(difference).startswith(f"{prefix}.ns.entries: 2 partitions, catalog says 3")
    entries_configs = [d for d in changed.differences if d.setting == "cleanup.policy"]
    assert entries_configs == []

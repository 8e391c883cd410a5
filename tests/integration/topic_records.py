"""Read whole topics back with a plain consumer, as an analyst or an auditor would; write the
bindings a processor would, for tests that produce documents themselves."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from nightstream.schemas.compacted import read_records
from nightstream.schemas.documents import Collection, NsRecord, to_avro
from nightstream.schemas.identity import entry_identifier
from nightstream.schemas.records import StreamBinding
from nightstream.schemas.serde import make_serde
from nightstream.schemas.stream_partitions import document_partitions, stream_partition
from nightstream.schemas.topics import TopicNames
from tests.timing import scaled


async def topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    """Every topic whose name starts with ``prefix`` (the run's own, internal ones included)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(name for name in await admin.list_topics() if name.startswith(prefix))
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str, topic: str, *, within: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning to its end offsets as of now."""
    limit = scaled(within)
    try:
        return await asyncio.wait_for(read_records(bootstrap, topic), timeout=limit)
    except TimeoutError:
        raise AssertionError(f"could not read {topic} to its end within {limit:.0f} s") from None


async def bind_streams(bootstrap: str, prefix: str, streams_by_link: dict[str, str]) -> None:
    """Record ``link -> stream`` bindings as the processor does on a link's first payload."""
    topic = TopicNames(prefix).bindings
    serde = make_serde("stream_binding", subject=f"{topic}-value")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for link_id, stream in streams_by_link.items():
            vendor = stream.removeprefix("nightstream://").partition("/")[0]
            binding = StreamBinding(link_id, vendor, stream, bound_at_ms=0)
            await producer.send_and_wait(
                topic, serde.encode(binding.to_avro()), key=link_id.encode()
            )
    finally:
        await producer.stop()


def sgv_entry(device: str, date_ms: int, sgv: int) -> NsRecord:
    """A steady (``Flat``) glucose reading as the processor writes it to ``ns.entries``."""
    document = {
        "device": device,
        "date": date_ms,
        "type": "sgv",
        "sgv": sgv,
        "direction": "Flat",
        "app": "nightstream",
        "utcOffset": 0,
        "identifier": entry_identifier(device, date_ms, "sgv"),
    }
    return NsRecord(Collection.ENTRIES, device, document)


async def produce_documents(bootstrap: str, prefix: str, records: list[NsRecord]) -> None:
    """``records`` onto the ``ns.*`` topics, in order, as the processor would write them (each
    in its stream's partition)."""
    names = TopicNames(prefix)
    serdes = {c: make_serde(c.schema_name, subject="t") for c in Collection}
    partitions = await document_partitions(bootstrap, names)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for record in records:
            topic = names.ns(record.collection)
            await producer.send(
                topic,
                serdes[record.collection].encode(to_avro(record)),
                key=record.identifier.encode(),
                partition=stream_partition(record.stream, partitions[topic]),
            )
        await producer.flush()
    finally:
        await producer.stop()

"""Which partition of an ``ns.*`` topic holds a stream's documents.

Documents are keyed by identifier (so compaction keeps each identifier's latest version) but
partitioned by stream: every document of one stream lands in one partition of each document
topic. A sink then reads each partition once for every site it serves, and catching one site
up on a stream reads that stream's partition, not the whole topic. Identifiers are derived
from the stream, so one identifier's versions stay in one partition, in order.

The hash is Kafka's own (murmur2, as its default partitioner applies to keys), so any client
can tell where a stream lives.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2

from nightstream.schemas.compacted import partitions_of
from nightstream.schemas.documents import Collection
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.topics import TopicNames


@lru_cache(maxsize=65_536)
def stream_partition(stream: str, partitions: int) -> int:
    """Cached: aiokafka's murmur2 is pure Python, and a stream's documents come again and again."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    return int(murmur2(stream.encode()) & 0x7FFFFFFF) % partitions


async def document_partitions(bootstrap_servers: Brokers, names: TopicNames) -> dict[str, int]:
    """How many partitions each existing document topic has."""
    counts = {}
    for collection in Collection:
        topic = names.ns(collection)
        count = len(await partitions_of(bootstrap_servers, topic))
        if count:
            counts[topic] = count
    return counts

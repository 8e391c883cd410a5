"""Which link ids nightstream has ever heard of, for commands that name one link's history."""

from __future__ import annotations

from nightstream.config import Settings
from nightstream.kafka_security import kafka_access
from nightstream.schemas.compacted import read_records
from nightstream.schemas.topics import TopicNames


async def known_link_ids(settings: Settings) -> set[str]:
    """The file's links, every link ever put on the links topic (removed ones included: their
    history stays) and every link the processor bound to a stream (it had payloads)."""
    names = TopicNames(settings.kafka.topic_prefix)
    known = {link.id for link in settings.links}
    for topic in (names.links, names.bindings):
        records = await read_records(kafka_access(settings.kafka), topic)
        known |= {r.key.decode("utf-8", "replace") for r in records if r.key is not None}
    return known

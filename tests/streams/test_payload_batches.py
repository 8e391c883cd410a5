"""A batch of raw payloads through ``PayloadHandler``: the order that makes restarts safe.

Kafka is replaced here by a recorder of sends and acknowledgements, because the claims are about
order (what is sent before what is awaited): bindings are acknowledged before any document of
their payload is sent, documents and dead letters are all sent before any is awaited, hashes
are recorded only after every acknowledgement. The same code on the real broker is exercised
by tests/integration (restart over a backlog, routing, reprocess).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nightstream.schemas.bindings import StreamBindings
from nightstream.schemas.documents import Collection as DocumentCollection
from nightstream.schemas.hash_changelog import HashEntry
from nightstream.schemas.identity import stream_digest
from nightstream.schemas.records import RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.streams.payloads import PayloadHandler, RawItem
from nightstream.streams.registry import TRANSFORMS
from nightstream.streams.stream_binder import StreamBinder

NOW_MS = 1_790_000_000_000
FIVE_MINUTES = 300_000
NAMES = TopicNames("t")
RAW_TOPIC = NAMES.raw("dexcomshare")
ENTRIES = NAMES.ns(DocumentCollection.ENTRIES)


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Recorder:
    """Sends and acknowledgements in the order they happen, and the recorded hashes."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.hashes: dict[str, str] = {}
        self.recorded: list[dict[int, list[HashEntry]]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int | None) -> Any:
        self.events.append(("send", topic))

        async def ack() -> None:
            self.events.append(("ack", topic))

        return ack()

    def lookup(self, addresses: Collection[str]) -> Mapping[str, str]:
        return {a: self.hashes[a] for a in addresses if a in self.hashes}

    async def record(
        self, entries: Mapping[int, Sequence[HashEntry]], stream_times: Mapping[int, int]
    ) -> None:
        self.events.append(("record", ""))
        self.recorded.append({p: list(rows) for p, rows in entries.items()})
        for rows in entries.values():
            self.hashes.update((r.address, r.content_hash) for r in rows)

    def indexes(self, kind: str, topic: str) -> list[int]:
        return [i for i, event in enumerate(self.events) if event == (kind, topic)]


def payload(link: str, account: str, readings: int, *, newest_ms: int = NOW_MS) -> bytes:
    body = [
        {
            "WT": f"Date({newest_ms - i * FIVE_MINUTES})",
            "ST": f"Date({newest_ms - i * FIVE_MINUTES})",
            "DT": f"Date({newest_ms - i * FIVE_MINUTES}-0400)",
            "Value": 40 + (newest_ms // FIVE_MINUTES - i) % 300,
            "Trend": "Flat",
        }
        for i in range(readings)
    ]
    raw = RawPayload(
        link_id=link,
        vendor="dexcomshare",
        endpoint="Publisher/ReadPublisherLatestGlucoseValues",
        fetched_at_ms=newest_ms,
        http_status=200,
        body=json.dumps(body).encode(),
        poller_version="test",
        request_params={"minutes": "1440", "stream": stream_digest(account)},
    )
    serde = make_serde("raw_payload", subject=f"{RAW_TOPIC}-value")
    return serde.encode(raw.to_avro())


def handler_and_recorder() -> tuple[PayloadHandler, Recorder]:
    recorder = Recorder()
    serde = make_serde("stream_binding", subject=f"{NAMES.bindings}-value")
    table = StreamBindings("127.0.0.1:9", NAMES.bindings, serde)
    binder = StreamBinder(table, recorder.send, serde)
    return PayloadHandler(NAMES, recorder.send, recorder, binder=binder), recorder


def items(*values: tuple[str, bytes]) -> list[RawItem]:
    transform = TRANSFORMS["dexcomshare"]
    return [
        ("dexcomshare", transform, Message(RAW_TOPIC, 0, offset, link.encode(), value))
        for offset, (link, value) in enumerate(values)
    ]


async def test_a_batch_binds_then_sends_everything_then_awaits_once_then_records() -> None:
    handler, recorder = handler_and_recorder()
    batch = items(
        ("a", payload("a", "account-a", 3)),
        ("b", payload("b", "account-b", 2)),
        ("c", b"not avro"),
    )
    stats = await handler.handle_batch(batch)

    assert [s.emitted for s in stats] == [3, 2, 0]
    assert [s.rejected for s in stats] == [0, 0, 1]
    bindings = recorder.indexes("ack", NAMES.bindings)
    documents = recorder.indexes("send", ENTRIES)
    acks = recorder.indexes("ack", ENTRIES) + recorder.indexes("ack", NAMES.dlq)
    [record] = recorder.indexes("record", "")
    assert (len(bindings), len(documents), len(acks)) == (2, 5, 6)
    assert max(bindings) < min(documents), "documents sent before their binding was acknowledged"
    assert max(documents) < min(acks), "an acknowledgement was awaited before the batch was sent"
    assert max(acks) < record, "hashes recorded before Kafka acknowledged the documents"


async def test_a_document_repeated_within_a_batch_is_sent_once_and_again_only_when_changed() -> (
    None
):
    handler, recorder = handler_and_recorder()
    first = payload("a", "account-a", 2)
    stats = await handler.handle_batch(items(("a", first), ("a", first)))
    assert [s.emitted for s in stats] == [2, 0]
    assert [s.unchanged for s in stats] == [0, 2]
    [recorded] = recorder.recorded
    assert len(recorded[0]) == 2

    # Next batch: the same window moved on by one reading: one new document only.
    later = payload("a", "account-a", 2, newest_ms=NOW_MS + FIVE_MINUTES)
    stats = await handler.handle_batch(items(("a", later)))
    assert [s.emitted for s in stats] == [1]


async def test_a_batch_is_cut_where_a_link_changes_stream() -> None:
    handler, recorder = handler_and_recorder()
    batch = items(
        ("a", payload("a", "account-a", 1)),
        ("a", payload("a", "account-other", 1, newest_ms=NOW_MS + FIVE_MINUTES)),
    )
    await handler.handle_batch(batch)
    bindings = recorder.indexes("ack", NAMES.bindings)
    documents = recorder.indexes("send", ENTRIES)
    records = recorder.indexes("record", "")
    # Two segments, each: binding acknowledged, its document sent, its hash recorded.
    assert (len(bindings), len(documents), len(records)) == (2, 2, 2)
    assert bindings[0] < documents[0] < records[0] < bindings[1] < documents[1] < records[1]

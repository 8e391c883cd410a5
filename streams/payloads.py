"""Raw payloads in, only new or changed Nightscout documents out: the processor's work.

For a batch of payloads: decode each envelope, run the vendor's pure transform, send rejected
fragments to the DLQ, and publish only the documents whose content hash differs from the
recorded one (or from an earlier payload of the same batch). Nothing is awaited per record:
the batch's links are bound to their streams (acknowledged before any of their documents is
sent), then documents and dead letters are sent and Kafka's acknowledgements awaited once, and
only then are the new hashes recorded; the caller commits the raw offsets after that. So a
crash can repeat a document but never lose one. A batch in which a link's stream changes is
cut there into segments, each delivered in that order. The same code runs in the processor and
in a reprocess pass; they differ only in how they send records and where the hashes live.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nightstream.schemas.dead_letters import bounded_dead_letter
from nightstream.schemas.documents import Collection as DocumentCollection
from nightstream.schemas.documents import NsRecord, to_avro
from nightstream.schemas.errors import RecordDecodeError
from nightstream.schemas.hash_changelog import HashEntry
from nightstream.schemas.partition_batches import PartitionBatches
from nightstream.schemas.records import DeadLetter, RawPayload
from nightstream.schemas.registry import SchemaRegistryClient
from nightstream.schemas.serde import Serde, make_serde
from nightstream.schemas.stream_partitions import stream_partition
from nightstream.schemas.topics import TopicNames
from nightstream.schemas.version import app_version
from nightstream.streams.transform import Transform

logger = logging.getLogger(__name__)

Send = Callable[[str, bytes | None, bytes, int | None], Awaitable[Awaitable[Any]]]
"""``send(topic, key, value, partition)``: queue a record (in ``partition``, or by its key when
None), return what completes on Kafka's answer."""


class RawMessage(Protocol):
    """What faust's messages and aiokafka's consumer records both have."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


RawItem = tuple[str, Transform, RawMessage]
"""A raw payload to process: vendor, its transform, the Kafka record."""


class Binder(Protocol):
    """Records which stream each link reads (see ``nightstream.streams.stream_binder``)."""

    async def bind_all(self, links: Sequence[tuple[str, str, set[str]]]) -> None:
        """Bind each ``(link id, vendor, streams of its payload)``; return once acknowledged."""


class HashStore(Protocol):
    """``collection/identifier -> content hash`` of the documents emitted so far."""

    def lookup(self, addresses: Collection[str]) -> Mapping[str, str]: ...

    async def record(
        self, entries: Mapping[int, Sequence[HashEntry]], stream_times: Mapping[int, int]
    ) -> None:
        """Remember hashes of documents that came from each raw partition; ``stream_times``:
        the newest payload fetch time seen per raw partition."""


@dataclass
class PayloadStats:
    emitted: int = 0
    unchanged: int = 0
    rejected: int = 0
    other_link: bool = False


@dataclass
class PayloadTotals:
    """What a run did, over every payload it read."""

    payloads: int = 0
    other_links: int = 0
    emitted: int = 0
    unchanged: int = 0
    rejected: int = 0

    def describe(self) -> str:
        """In words, for a log line."""
        return (
            f"{self.payloads} payload(s) read, {self.emitted} document(s) emitted, "
            f"{self.unchanged} unchanged, {self.rejected} to the DLQ, "
            f"{self.other_links} of other links skipped"
        )

    def add(self, stats: PayloadStats) -> None:
        self.payloads += 1
        self.other_links += stats.other_link
        self.emitted += stats.emitted
        self.unchanged += stats.unchanged
        self.rejected += stats.rejected


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PayloadHandler:
    def __init__(
        self,
        names: TopicNames,
        send: Send,
        hashes: HashStore,
        registry: SchemaRegistryClient | None = None,
        *,
        only_link: str | None = None,
        binder: Binder | None = None,
        partitions: Mapping[str, int] | None = None,
        batches: Callable[[], PartitionBatches] | None = None,
    ) -> None:
        self.names = names
        self._batches = batches
        """Where documents for a known partition go, a Kafka batch at a time (the rest, and all
        of them without it, through ``send``)."""
        self._partitions = partitions or {}
        """Partitions of each document topic: documents go to their stream's partition
        (``schemas.stream_partitions``); a topic not given here is partitioned by key."""
        self._binder = binder
        self._send = send
        self._hashes = hashes
        self._registry = registry
        self._only_link = only_link.encode() if only_link is not None else None
        self._raw_serdes: dict[str, Serde] = {}
        self._doc_serdes: dict[DocumentCollection, Serde] = {
            c: make_serde(c.schema_name, subject=f"{names.ns(c)}-value", registry=registry)
            for c in DocumentCollection
        }
        self._dlq_serde = make_serde("dead_letter", subject=f"{names.dlq}-value", registry=registry)

    def _raw_serde(self, vendor: str) -> Serde:
        serde = self._raw_serdes.get(vendor)
        if serde is None:
            subject = f"{self.names.raw(vendor)}-value"
            serde = make_serde("raw_payload", subject=subject, registry=self._registry)
            self._raw_serdes[vendor] = serde
        return serde

    async def handle_batch(self, items: Sequence[RawItem]) -> list[PayloadStats]:
        """Process payloads in order: documents and dead letters are sent without awaiting each,
        Kafka is awaited once per segment, then the hashes are recorded (see module doc)."""
        return await self.deliver(self.prepare(items))

    def prepare(self, items: Sequence[RawItem]) -> PreparedBatch:
        """Decode and transform (CPU only: no Kafka, no hashes), so it can overlap the
        delivery of the batch before."""
        return PreparedBatch([self._prepare(*item) for item in items])

    async def deliver(self, batch: PreparedBatch) -> list[PayloadStats]:
        for segment in _segments(batch.payloads):
            await self._deliver(segment)
        return [p.stats for p in batch.payloads]

    def _prepare(self, vendor: str, transform: Transform, message: RawMessage) -> _Prepared:
        prepared = _Prepared(vendor, message)
        if self._only_link is not None and message.key != self._only_link:
            prepared.stats.other_link = True
            return prepared
        value = message.value or b""
        try:
            decoded = self._raw_serde(vendor).decode(
                value, topic=message.topic, partition=message.partition, offset=message.offset
            )
            raw = RawPayload.from_avro(decoded)
        except (RecordDecodeError, TypeError) as exc:
            prepared.letters.append(_Letter("decode", str(exc), value, None))
            return prepared
        output = transform(raw)
        prepared.raw = raw
        prepared.records = [r.at_version(raw.fetched_at_ms) for r in output.records]
        prepared.letters += [
            _Letter("transform", r.reason, r.fragment, raw.link_id) for r in output.rejected
        ]
        return prepared

    async def _deliver(self, segment: Sequence[_Prepared]) -> None:
        pending = [
            await self._dead_letter(letter, p.message, vendor=p.vendor)
            for p in segment
            for letter in p.letters
        ]
        for p in segment:
            p.stats.rejected = len(p.letters)
        decoded = [p for p in segment if p.raw is not None]
        if self._binder is not None:
            await self._binder.bind_all(
                [(p.link, p.vendor, {r.stream for r in p.records}) for p in decoded]
            )
        known = dict(self._hashes.lookup({r.address for p in decoded for r in p.records}))
        entries: dict[int, dict[str, HashEntry]] = {}
        stream_times: dict[int, int] = {}
        batches = self._batches() if self._batches is not None else None
        for p in decoded:
            partition = p.message.partition
            assert p.raw is not None
            stream_times[partition] = max(stream_times.get(partition, 0), p.raw.fetched_at_ms)
            changed = [r for r in p.records if known.get(r.address) != r.content_hash]
            for record in changed:
                known[record.address] = record.content_hash
                topic, key, value, to_partition = self._document_record(record)
                if batches is not None and to_partition is not None:
                    batches.add(topic, to_partition, key, value)
                else:
                    pending.append(await self._send(topic, key, value, to_partition))
                entry = HashEntry(record.address, record.content_hash, int(record.document["date"]))
                entries.setdefault(partition, {})[record.address] = entry
            p.stats.emitted = len(changed)
            p.stats.unchanged = len(p.records) - len(changed)
            p.log()
        if batches is not None:
            pending += [submitted.acknowledged for submitted in await batches.send()]
        # Kafka's acknowledgement comes before the hashes are recorded (see module doc).
        await _all_acknowledged(pending)
        await self._hashes.record(
            {partition: list(rows.values()) for partition, rows in entries.items()}, stream_times
        )

    def _document_record(self, record: NsRecord) -> tuple[str, bytes, bytes, int | None]:
        """Topic, key, value and partition (None: by key) of a document."""
        value = self._doc_serdes[record.collection].encode(to_avro(record))
        topic = self.names.ns(record.collection)
        count = self._partitions.get(topic)
        partition = None if count is None else stream_partition(record.stream, count)
        return topic, record.identifier.encode(), value, partition

    async def _dead_letter(
        self, letter: _Letter, message: RawMessage, *, vendor: str | None = None
    ) -> Awaitable[Any]:
        # A huge bad payload must not make its own dead letter too large to publish.
        dead = bounded_dead_letter(
            DeadLetter(
                stage=letter.stage,
                reason=letter.reason,
                source_topic=message.topic,
                source_partition=message.partition,
                source_offset=message.offset,
                link_id=letter.link_id,
                vendor=vendor,
                original_key=message.key,
                original_value=letter.original,
                failed_at_ms=_now_ms(),
                app_version=app_version(),
            )
        )
        logger.warning(
            "to DLQ (%s) from %s[%s]@%s: %s",
            letter.stage,
            message.topic,
            message.partition,
            message.offset,
            letter.reason,
        )
        return await self._send(
            self.names.dlq, message.key, self._dlq_serde.encode(dead.to_avro()), None
        )


@dataclass(frozen=True)
class _Letter:
    stage: str
    reason: str
    original: bytes
    link_id: str | None


@dataclass
class _Prepared:
    """One payload, decoded and transformed, waiting for its segment to be delivered."""

    vendor: str
    message: RawMessage
    raw: RawPayload | None = None
    records: list[NsRecord] = field(default_factory=list)
    letters: list[_Letter] = field(default_factory=list)
    stats: PayloadStats = field(default_factory=PayloadStats)

    @property
    def link(self) -> str:
        assert self.raw is not None
        return self.raw.link_id

    @property
    def stream(self) -> str | None:
        """The stream its link is bound to by this payload (the binder's rule: the last)."""
        return max((r.stream for r in self.records), default=None)

    def log(self) -> None:
        if self.raw is not None and (self.stats.emitted or self.stats.rejected):
            logger.info(
                "link %s %s: %d new or changed, %d unchanged, %d to DLQ",
                self.raw.link_id,
                self.raw.endpoint,
                self.stats.emitted,
                self.stats.unchanged,
                self.stats.rejected,
            )


@dataclass(frozen=True)
class PreparedBatch:
    payloads: list[_Prepared]

    def payloads_for(self, documents: int, most: int) -> int:
        """How many payloads like these make about ``documents`` documents (1 to ``most``)."""
        made = sum(len(p.records) for p in self.payloads)
        per_payload = made / len(self.payloads) if self.payloads else 1.0
        return max(1, min(most, int(documents / max(per_payload, 1.0))))


async def _all_acknowledged(pending: Sequence[Awaitable[Any]]) -> None:
    """Await each in turn: most are done by the time the last is, and awaiting a done future
    costs nothing, where ``gather`` would add a callback to each of thousands."""
    for acknowledged in pending:
        await acknowledged


def _segments(prepared: Sequence[_Prepared]) -> Iterator[list[_Prepared]]:
    """Cut the batch where a link's stream changes, so each payload's binding is acknowledged
    before its documents are published, never replaced by a later one first."""
    segment: list[_Prepared] = []
    streams: dict[str, str] = {}
    for p in prepared:
        stream = p.stream if p.raw is not None else None
        if stream is not None and streams.setdefault(p.link, stream) != stream:
            yield segment
            segment, streams = [], {p.link: stream}
        segment.append(p)
    if segment:
        yield segment

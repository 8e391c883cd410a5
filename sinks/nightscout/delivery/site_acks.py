"""What every site acknowledged, per document: ``site|collection/identifier -> answer@version``.

One bounded store for all the sites a sink serves (``schemas.hash_store``: SQLite on disk in
front of the compacted ``<prefix>.sink.acked`` changelog, restored from where the local copy
ends, expired by document date behind a horizon). Changelog partition ``p`` holds the answers
for documents of partition ``p`` of the document topics (modulo its partitions, should a
document topic have been given more), so an instance restores only what it owns.

An answer is the content hash Nightscout acknowledged, or a final verdict on that content:
``deleted:`` (410: the user deleted it, never resurrect) or ``rejected:`` (400/422: in the
DLQ), with where that version was read (``@partition:offset``) and its version (``:v<ms>``, when
the vendor answer was fetched). An older version read later (a catch-up or a new group over
what compaction has not removed yet) is then skipped instead of written over the newer one:
versions decide when both are known, else the later offset in the same partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nightstream.schemas.documents import NsRecord
from nightstream.schemas.hash_changelog import HashEntry
from nightstream.schemas.hash_store import LocalHashStore

DELETED = "deleted:"
REJECTED = "rejected:"


@dataclass(frozen=True, slots=True)
class Answer:
    marker: str
    version: int | None
    partition: int | None = None
    offset: int | None = None

    def settles(self, record: NsRecord) -> bool:
        """The site already answered for this content, or deleted the document."""
        h = record.content_hash
        return self.marker in (h, REJECTED + h) or self.marker.startswith(DELETED)

    def supersedes(self, record: NsRecord, partition: int, offset: int) -> bool:
        """The site acknowledged a newer version than ``record``, read at ``offset``."""
        if self.version is not None and record.version is not None:
            return self.version > record.version
        return self.partition == partition and (self.offset or 0) > offset

    def read_before(self, record: NsRecord, partition: int, offset: int) -> bool:
        """This answer was recorded for a version read before ``record`` (at ``offset``)."""
        if self.version is not None and record.version is not None:
            return self.version < record.version
        return self.partition == partition and (self.offset or 0) < offset

    def encode(self) -> str:
        where = f"@{self.partition}:{self.offset}"
        return f"{self.marker}{where}" + ("" if self.version is None else f":v{self.version}")

    @classmethod
    def decode(cls, text: str) -> Answer:
        marker, _, where = text.partition("@")
        partition, _, rest = where.partition(":")
        offset, _, version = rest.partition(":v")
        return cls(
            marker,
            int(version) if version.isdigit() else None,
            int(partition) if partition.isdigit() else None,
            int(offset) if offset.isdigit() else None,
        )


def _key(site: str, address: str) -> str:
    return f"{site}|{address}"


class SiteAcks:
    def __init__(self, store: LocalHashStore) -> None:
        self.store = store
        self.partitions = 1
        """Of the changelog; set once known (``changelog_partition``)."""

    def changelog_partition(self, partition: int) -> int:
        """Where the answers for documents of ``partition`` of a document topic live."""
        return partition % self.partitions

    def answers(self, site: str, records: Iterable[NsRecord]) -> dict[str, Answer]:
        """The recorded answer of ``site`` for each of ``records`` that has one, by address."""
        wanted = {_key(site, r.address): r.address for r in records}
        found = self.store.lookup(wanted.keys())
        return {wanted[key]: Answer.decode(value) for key, value in found.items()}

    async def record(self, site: str, answered: Sequence[tuple[NsRecord, int, int, str]]) -> None:
        """``answered``: (record, partition and offset it was read at, marker)."""
        entries: dict[int, list[HashEntry]] = {}
        stream_times: dict[int, int] = {}
        for record, partition, offset, marker in answered:
            answer = Answer(marker, record.version, partition, offset)
            date = int(record.document.get("date") or 0)
            home = self.changelog_partition(partition)
            entries.setdefault(home, []).append(
                HashEntry(_key(site, record.address), answer.encode(), date)
            )
            stream_times[home] = max(stream_times.get(home, 0), date)
        await self.store.record(entries, stream_times)

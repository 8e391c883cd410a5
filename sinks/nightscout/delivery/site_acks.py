"""What every site acknowledged, per document: ``site|collection/identifier -> answer@version``.

One bounded store for all the sites a sink serves (``schemas.hash_store``: SQLite on disk in
front of the compacted ``<prefix>.sink.acked`` changelog, restored from where the local copy
ends, expired by document date behind a horizon). Changelog partition ``p`` holds the answers
for documents of partition ``p`` of the document topics (modulo its partitions, should a
document topic have been given more), so an instance restores only what it owns.

An answer is the content hash Nightscout acknowledged, or a final verdict on that content:
``deleted:`` (410: the user deleted it, never resurrect) or ``rejected:`` (400/422: in the
DLQ). The version (when the vendor answer was fetched) lets an older version read later (a
catch-up over what compaction has not removed yet) be skipped instead of overwriting a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.documents import NsRecord
from schemas.hash_changelog import HashEntry
from schemas.hash_store import LocalHashStore

DELETED = "deleted:"
REJECTED = "rejected:"


@dataclass(frozen=True, slots=True)
class Answer:
    marker: str
    version: int | None

    def settles(self, record: NsRecord) -> bool:
        """The site already answered for this content, or deleted the document."""
        h = record.content_hash
        return self.marker in (h, REJECTED + h) or self.marker.startswith(DELETED)

    def supersedes(self, record: NsRecord) -> bool:
        return (
            self.version is not None
            and record.version is not None
            and self.version > record.version
        )

    def encode(self) -> str:
        return self.marker if self.version is None else f"{self.marker}@v{self.version}"

    @classmethod
    def decode(cls, text: str) -> Answer:
        marker, _, version = text.partition("@v")
        return cls(marker, int(version) if version.isdigit() else None)


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

    async def record(self, site: str, answered: Sequence[tuple[NsRecord, int, str]]) -> None:
        """``answered``: (record, its document-topic partition, marker), stored with versions."""
        entries: dict[int, list[HashEntry]] = {}
        stream_times: dict[int, int] = {}
        for record, partition, marker in answered:
            answer = Answer(marker, record.version)
            date = int(record.document.get("date") or 0)
            home = self.changelog_partition(partition)
            entries.setdefault(home, []).append(
                HashEntry(_key(site, record.address), answer.encode(), date)
            )
            stream_times[home] = max(stream_times.get(home, 0), date)
        await self.store.record(entries, stream_times)

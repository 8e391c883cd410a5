"""What one site's lane did with the documents it was given: counts for logs and reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SinkStats:
    written: int = 0
    by_collection: dict[str, int] = field(default_factory=dict)
    skipped_unchanged: int = 0
    """The site already acknowledged this exact content."""
    superseded: int = 0
    """Older versions: followed by a newer one in the chunk, or older than the acknowledged one."""
    deleted_by_user: int = 0
    """Answered 410 now: the user deleted the document; it is never sent again."""
    skipped_deleted: int = 0
    """Answered 410 earlier: not sent again."""
    rejected: int = 0
    """Refused by the site (400/422): to the DLQ."""
    dropped_batches: int = 0
    """Chunks dropped unwritten because this instance lost their partitions meanwhile."""

    def __str__(self) -> str:
        """In words, leaving out what did not happen."""
        written = f"{self.written} written"
        if self.by_collection:
            written += (
                " (" + ", ".join(f"{n} {c}" for c, n in sorted(self.by_collection.items())) + ")"
            )
        counts = [
            (self.skipped_unchanged, "unchanged"),
            (self.superseded, "superseded by a newer version"),
            (self.deleted_by_user, "deleted by the user (410)"),
            (self.skipped_deleted, "skipped as deleted"),
            (self.rejected, "rejected (to the DLQ)"),
            (self.dropped_batches, "batches dropped after a rebalance"),
        ]
        return ", ".join([written] + [f"{n} {what}" for n, what in counts if n])

"""Per-collection rules from `lib/api3/generic/setup.js` (reference §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nightstream.simulators.nightscout.dates import parse_to_moment


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    # Matched only against stored documents that have no identifier (v1-era documents).
    dedup_fallback_fields: tuple[str, ...]
    # Stands in for srvModified on documents that lack it; also feeds /lastModified.
    fallback_date_field: str | None
    # SEARCH and HISTORY permission operation ("settings" needs admin, not read).
    search_operation: str = "read"

    def fallback_modified_ms(self, document: dict[str, Any]) -> int | None:
        if self.fallback_date_field is None:
            return None
        parsed = parse_to_moment(document.get(self.fallback_date_field))
        return parsed.epoch_ms if parsed else None


COLLECTIONS: dict[str, CollectionSpec] = {
    spec.name: spec
    for spec in (
        CollectionSpec("devicestatus", ("created_at", "device"), "created_at"),
        CollectionSpec("entries", ("date", "type"), "date"),
        CollectionSpec("food", ("created_at",), "created_at"),
        CollectionSpec("profile", ("created_at",), "created_at"),
        CollectionSpec("settings", (), None, search_operation="admin"),
        CollectionSpec("treatments", ("created_at", "eventType"), "created_at"),
    )
}

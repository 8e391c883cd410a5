"""Which documents fall inside a ``--since``/``--until`` window, by the date Nightscout shows.

The date of a document: ``date`` (epoch ms) for entries; ``created_at`` (ISO 8601) for
treatments and devicestatus, else their ``date``. ``since`` is inclusive, ``until`` exclusive.
Every time is UTC unless it says otherwise; a document without a readable date is outside any
window (it cannot be shown to be inside).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nightstream.schemas.documents import Collection, NsRecord

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True)
class DateWindow:
    since_ms: int | None = None
    until_ms: int | None = None

    def __post_init__(self) -> None:
        if (
            self.since_ms is not None
            and self.until_ms is not None
            and self.until_ms <= self.since_ms
        ):
            raise ValueError("--until must be later than --since")

    @property
    def unbounded(self) -> bool:
        return self.since_ms is None and self.until_ms is None

    def contains(self, record: NsRecord) -> bool:
        if self.unbounded:
            return True
        date_ms = document_date_ms(record.collection, record.document)
        if date_ms is None:
            return False
        if self.since_ms is not None and date_ms < self.since_ms:
            return False
        return self.until_ms is None or date_ms < self.until_ms

    def describe(self) -> str:
        parts = []
        if self.since_ms is not None:
            parts.append(f"since {format_utc(self.since_ms)}")
        if self.until_ms is not None:
            parts.append(f"until {format_utc(self.until_ms)} (exclusive)")
        return ", ".join(parts) or "all dates"


def parse_instant(text: str) -> int:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 time (UTC unless it has an offset) -> ms."""
    try:
        moment = _aware(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date: use YYYY-MM-DD or an ISO 8601 time such as "
            "2026-01-31T12:00:00Z (UTC unless an offset is given)"
        ) from None
    return _epoch_ms(moment)


def document_date_ms(collection: Collection, document: Mapping[str, Any]) -> int | None:
    if collection is not Collection.ENTRIES:
        created = _iso_ms(document.get("created_at"))
        if created is not None:
            return created
    return _number_ms(document.get("date"))


def format_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND


def _iso_ms(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return _epoch_ms(_aware(datetime.fromisoformat(value.strip())))
    except ValueError:
        return None


def _number_ms(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)

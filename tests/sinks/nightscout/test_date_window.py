"""Which documents a replay's --since/--until window lets through."""

from __future__ import annotations

from typing import Any

import pytest

from nightstream.schemas.documents import Collection, NsRecord
from nightstream.sinks.nightscout.date_window import (
    DateWindow,
    document_date_ms,
    format_utc,
    parse_instant,
)

JAN_31_MS = 1_769_817_600_000  # 2026-01-31T00:00:00Z


def _record(collection: Collection, **fields: Any) -> NsRecord:
    return NsRecord(collection, "link", {"identifier": "x", **fields})


def test_a_date_alone_is_midnight_utc() -> None:
    assert parse_instant("2026-01-31") == JAN_31_MS


def test_a_time_without_offset_is_utc() -> None:
    assert parse_instant("2026-01-31T12:00") == JAN_31_MS + 12 * 3_600_000


def test_an_offset_is_honoured() -> None:
    assert parse_instant("2026-01-31T02:00:00+02:00") == JAN_31_MS
    assert parse_instant("2026-01-31T00:00:00.250Z") == JAN_31_MS + 250


def test_something_else_says_what_to_write() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_instant("31/01/2026")


def test_until_must_come_after_since() -> None:
    with pytest.raises(ValueError, match="later than"):
        DateWindow(JAN_31_MS, JAN_31_MS)


def test_entries_are_dated_by_date() -> None:
    entry = _record(Collection.ENTRIES, date=JAN_31_MS, created_at="2020-01-01T00:00:00Z")
    assert document_date_ms(entry.collection, entry.document) == JAN_31_MS


def test_treatments_and_devicestatus_are_dated_by_created_at_else_date() -> None:
    created = _record(Collection.TREATMENTS, created_at="2026-01-31T00:00:01Z", date=1)
    assert document_date_ms(created.collection, created.document) == JAN_31_MS + 1000
    dated = _record(Collection.DEVICESTATUS, date=JAN_31_MS)
    assert document_date_ms(dated.collection, dated.document) == JAN_31_MS
    unreadable = _record(Collection.DEVICESTATUS, created_at="yesterday", date=JAN_31_MS)
    assert document_date_ms(unreadable.collection, unreadable.document) == JAN_31_MS


def test_since_is_inclusive_and_until_exclusive() -> None:
    window = DateWindow(JAN_31_MS, JAN_31_MS + 1000)
    assert window.contains(_record(Collection.ENTRIES, date=JAN_31_MS))
    assert window.contains(_record(Collection.ENTRIES, date=JAN_31_MS + 999))
    assert not window.contains(_record(Collection.ENTRIES, date=JAN_31_MS + 1000))
    assert not window.contains(_record(Collection.ENTRIES, date=JAN_31_MS - 1))


def test_a_document_without_a_date_is_outside_any_window() -> None:
    assert not DateWindow(since_ms=0).contains(_record(Collection.ENTRIES, sgv=100))
    assert not DateWindow(since_ms=0).contains(_record(Collection.ENTRIES, date=True))


def test_an_unbounded_window_takes_everything() -> None:
    assert DateWindow().contains(_record(Collection.ENTRIES, sgv=100))


def test_the_window_describes_itself_in_utc() -> None:
    assert format_utc(JAN_31_MS) == "2026-01-31T00:00:00Z"
    assert DateWindow(JAN_31_MS).describe() == "since 2026-01-31T00:00:00Z"
    assert DateWindow().describe() == "all dates"

"""Properties of the Tandem transform over simulated pump logs (hypothesis).

- Order does not matter: the same events in any order give the same documents.
- Windows do not matter: an event gives the same document whichever window delivers it; only
  a Temp Basal's duration may differ, and only for the newest basal record of a window.
- Identifiers: treatments never share one, and differ between pumps (devices).
- Zones: the same wall clock read in another zone moves every document by the offset change.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nightstream.schemas.documents import Collection, NsDocument
from nightstream.schemas.records import RawPayload
from nightstream.simulators.tandem.accounts import SimPump
from nightstream.simulators.tandem.events import PumpLog
from nightstream.streams.tandem import transform
from tests.streams.tandem.cases import STREAM

NOW_MS = 1_781_000_000_000  # 2026-06-09
FIRST_DAY = date(2026, 6, 1)


def _events(seed: int, day: int, days: int, cgm: str = "g7") -> list[dict[str, Any]]:
    pump = SimPump(
        "7654321", cgm=cgm, first_event_ms=NOW_MS - 30 * 86_400_000, daily_basal_events=True
    )
    start = FIRST_DAY + timedelta(days=day)
    return PumpLog(pump, seed).events(start, start + timedelta(days=days - 1), NOW_MS)


def _raw(
    events: list[dict[str, Any]], zone: str = "America/New_York", stream: str = STREAM
) -> RawPayload:
    return RawPayload(
        link_id="pump-1",
        vendor="tandem",
        endpoint="pump-logs",
        fetched_at_ms=NOW_MS,
        http_status=200,
        body=json.dumps({"events": events, "clockChanges": []}).encode(),
        poller_version="test",
        request_params={"stream": stream},
        source_tz=zone,
    )


def _documents(
    events: list[dict[str, Any]], **options: str
) -> dict[tuple[Collection, str], NsDocument]:
    output = transform(_raw(events, **options))
    assert output.rejected == []
    return {(r.collection, r.identifier): r.document for r in output.records}


seeds = st.integers(0, 50)
cgms = st.sampled_from(["g7", "g6", "libre2", "libre3"])


@settings(deadline=None, max_examples=25)
@given(seed=seeds, day=st.integers(0, 6), cgm=cgms, data=st.data())
def test_order_does_not_matter(seed: int, day: int, cgm: str, data: st.DataObject) -> None:
    events = _events(seed, day, 1, cgm)
    shuffled = data.draw(st.permutations(events))
    assert _documents(shuffled) == _documents(events)


@settings(deadline=None, max_examples=25)
@given(seed=seeds, day=st.integers(0, 5), data=st.data())
def test_windows_do_not_change_documents(seed: int, day: int, data: st.DataObject) -> None:
    events = _events(seed, day, 2)
    cut = data.draw(st.integers(1, len(events) - 1))
    overlap = data.draw(st.integers(0, min(cut, 300)))
    whole = _documents(events)
    for window in (events[:cut], events[cut - overlap :]):
        part = _documents(window)
        newest_basal = max(
            (d["date"] for (c, _), d in part.items() if d.get("eventType") == "Temp Basal"),
            default=None,
        )
        for key, document in part.items():
            assert key in whole
            if document.get("eventType") == "Temp Basal" and document["date"] == newest_basal:
                assert {**document, "duration": 0} == {**whole[key], "duration": 0}
            else:
                assert document == whole[key]


@settings(deadline=None, max_examples=15)
@given(seed=seeds, day=st.integers(0, 4))
def test_treatment_identifiers_are_unique_and_per_pump(seed: int, day: int) -> None:
    events = _events(seed, day, 3)
    mine = transform(_raw(events))
    other = transform(_raw(events, stream="ffffffffffff"))
    treatments = [r.identifier for r in mine.records if r.collection is Collection.TREATMENTS]
    assert len(treatments) == len(set(treatments))
    assert {r.identifier for r in mine.records}.isdisjoint(r.identifier for r in other.records)


@settings(deadline=None, max_examples=15)
@given(seed=seeds, day=st.integers(0, 6))
def test_another_zone_moves_every_document_by_the_offset(seed: int, day: int) -> None:
    # June: New York is UTC-4, Berlin UTC+2; the same wall clock is 6 h earlier in Berlin.
    events = _events(seed, day, 1)
    new_york = sorted(d["date"] for d in _documents(events).values())
    berlin = sorted(d["date"] for d in _documents(events, zone="Europe/Berlin").values())
    assert [a - b for a, b in zip(new_york, berlin, strict=True)] == [6 * 3_600_000] * len(berlin)

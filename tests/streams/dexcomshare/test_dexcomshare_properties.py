"""Properties of the Dexcom Share transform: sync identity, determinism, accounting, robustness."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nightstream.schemas.documents import Collection, NsDocument, from_avro, to_avro
from nightstream.schemas.glucose_values import ARROWS, DIRECTIONS
from nightstream.schemas.identity import device_name, entry_identifier
from nightstream.schemas.records import RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.streams.dexcomshare import transform
from nightstream.streams.dexcomshare.transform import MAX_SGV, MIN_SGV
from nightstream.streams.transform import TransformOutput

JsonValue = Any

AFTER_2000_MS = 946_684_800_001
BEFORE_2100_MS = 4_102_444_800_000
# Dexcom's own spellings, Nightscout's, odd variants and ones that are no trend at all.
TREND_SPELLINGS = [
    "None",
    *ARROWS,
    "NotComputable",
    "RateOutOfRange",
    *DIRECTIONS[8:],
    "Forty Five Down",
    "flat",
    "TripleUp",
    "",
]

digests = st.text("0123456789abcdef", min_size=12, max_size=12)
offsets = st.integers(-14 * 60, 14 * 60)
trends: st.SearchStrategy[JsonValue] = st.one_of(
    st.sampled_from(TREND_SPELLINGS), st.integers(-3, 12), st.text(max_size=12)
)


@dataclass(frozen=True)
class Reading:
    date: int
    value: int
    trend: JsonValue
    offset: int | None
    slashes: bool

    def item(self) -> dict[str, JsonValue]:
        suffix = ""
        if self.offset is not None:
            sign = "-" if self.offset < 0 else "+"
            suffix = f"{sign}{abs(self.offset) // 60:02d}{abs(self.offset) % 60:02d}"
        wrap = "/Date({})/" if self.slashes else "Date({})"
        return {
            "WT": wrap.format(self.date),
            "ST": wrap.format(self.date),
            "DT": wrap.format(f"{self.date}{suffix}"),
            "Value": self.value,
            "Trend": self.trend,
        }


def readings(dates: st.SearchStrategy[int]) -> st.SearchStrategy[Reading]:
    return st.builds(
        Reading,
        date=dates,
        value=st.integers(MIN_SGV, MAX_SGV),
        trend=trends,
        offset=st.none() | offsets,
        slashes=st.booleans(),
    )


def unique_readings(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[list[Reading]]:
    return st.lists(
        readings(st.integers(AFTER_2000_MS, BEFORE_2100_MS)),
        min_size=min_size,
        max_size=max_size,
        unique_by=lambda r: r.date,
    )


def broken_items(draw: st.DrawFn) -> JsonValue:
    """An item that must be rejected: one valid reading with exactly one thing wrong."""
    item = draw(readings(st.integers(AFTER_2000_MS, BEFORE_2100_MS))).item()
    key = draw(st.sampled_from(["WT", "DT", "Value", "Trend"]))
    flaw = draw(st.sampled_from(["missing", "wrong_type", "bad_value"]))
    if flaw == "missing":
        del item[key]
    elif flaw == "wrong_type":
        item[key] = draw(st.sampled_from([True, False, None, [1], {"x": 1}]))
    elif key == "Value":
        item[key] = draw(
            st.one_of(
                st.integers(max_value=MIN_SGV - 1),
                st.integers(min_value=MAX_SGV + 1),
                st.floats(allow_nan=True).filter(lambda f: not f.is_integer()),
                st.text(max_size=5),
            )
        )
    elif key == "Trend":
        item[key] = draw(st.floats(allow_nan=True).filter(lambda f: not f.is_integer()))
    elif key == "WT":
        item[key] = draw(
            st.sampled_from(["", "Date()", "Date(1e12)", "2025-01-01T00:00:00Z"])
            | st.integers(0, AFTER_2000_MS - 1).map("Date({})".format)
        )
    else:
        item[key] = draw(st.sampled_from(["Date(1+0099)", "Date(1+1500)", "Date(x)", "1"]))
    return item


broken = st.composite(broken_items)()
non_objects: st.SearchStrategy[JsonValue] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.none(), max_size=2)
)

json_scalars: st.SearchStrategy[JsonValue] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)
)
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.sampled_from(["WT", "ST", "DT", "Value", "Trend", "Code"]) | st.text(max_size=5),
            children,
            max_size=6,
        ),
    ),
    max_leaves=25,
)


def payload(
    items: list[JsonValue],
    *,
    stream: str = "3f9a1c0b7e42",
    fetched_at_ms: int = BEFORE_2100_MS,
    indent: int | None = None,
    link_id: str = "link-1",
) -> RawPayload:
    body = json.dumps(items, indent=indent).encode("utf-8")
    return raw_payload(body, stream=stream, fetched_at_ms=fetched_at_ms, link_id=link_id)


def raw_payload(
    body: bytes,
    *,
    stream: str = "3f9a1c0b7e42",
    fetched_at_ms: int = BEFORE_2100_MS,
    http_status: int = 200,
    link_id: str = "link-1",
) -> RawPayload:
    return RawPayload(
        link_id=link_id,
        vendor="dexcomshare",
        endpoint="Publisher/ReadPublisherLatestGlucoseValues",
        fetched_at_ms=fetched_at_ms,
        http_status=http_status,
        body=body,
        poller_version="test",
        request_params={"stream": stream, "minutes": "1440", "maxCount": "288"},
        window_start_ms=fetched_at_ms - 86_400_000,
        window_end_ms=fetched_at_ms,
    )


def by_date(output: TransformOutput) -> dict[int, NsDocument]:
    return {int(r.document["date"]): r.document for r in output.records}


def assert_well_formed(output: TransformOutput, raw: RawPayload) -> None:
    dates = [r.document["date"] for r in output.records]
    assert dates == sorted(set(dates))
    for record in output.records:
        doc = record.document
        assert record.collection is Collection.ENTRIES
        assert record.stream == record.document["device"]
        assert doc["type"] == "sgv"
        assert MIN_SGV <= doc["sgv"] <= MAX_SGV
        assert 946_684_800_000 < doc["date"] <= raw.fetched_at_ms + 3_600_000
        assert -1440 <= doc["utcOffset"] <= 1440
        assert 0 <= doc["trend"] <= 9
        assert doc["identifier"] == entry_identifier(doc["device"], doc["date"], "sgv")
    for rejected in output.rejected:
        assert isinstance(rejected.fragment, bytes)
        rejected.reason.encode("utf-8")  # must be writable to the DLQ as an Avro string


@settings(deadline=None)
@given(
    all_readings=unique_readings(min_size=1, max_size=30),
    data=st.data(),
    lag_a=st.integers(0, 600_000),
    lag_b=st.integers(0, 600_000),
)
def test_overlapping_polls_give_the_same_identifiers_and_documents(
    all_readings: list[Reading], data: st.DataObject, lag_a: int, lag_b: int
) -> None:
    newest_first = sorted(all_readings, key=lambda r: -r.date)
    n = len(newest_first)
    a_start = data.draw(st.integers(0, n - 1))
    a_end = data.draw(st.integers(a_start + 1, n))
    b_start = data.draw(st.integers(a_start, a_end - 1))
    b_end = data.draw(st.integers(b_start + 1, n))
    poll_a, poll_b = newest_first[a_start:a_end], newest_first[b_start:b_end]
    newest = max(r.date for r in all_readings)
    # The second poll is laid out differently (indented): only the readings may matter.
    out_a = transform(payload([r.item() for r in poll_a], fetched_at_ms=newest + lag_a))
    out_b = transform(payload([r.item() for r in poll_b], fetched_at_ms=newest + lag_b, indent=2))
    docs_a, docs_b = by_date(out_a), by_date(out_b)
    assert set(docs_a) == {r.date for r in poll_a}
    assert set(docs_b) == {r.date for r in poll_b}
    shared = set(docs_a) & set(docs_b)
    assert shared == {r.date for r in newest_first[b_start : min(a_end, b_end)]}
    for date in shared:
        assert docs_a[date] == docs_b[date]


@settings(deadline=None)
@given(
    batch=unique_readings(min_size=1),
    streams=st.lists(digests, min_size=2, max_size=4, unique=True),
)
def test_identifiers_never_collide_across_accounts(
    batch: list[Reading], streams: list[str]
) -> None:
    items = [r.item() for r in batch]
    identifiers: list[str] = []
    for stream in streams:
        output = transform(payload(items, stream=stream))
        assert {r.document["device"] for r in output.records} == {
            device_name("dexcomshare", stream)
        }
        identifiers += [r.identifier for r in output.records]
    assert len(identifiers) == len(batch) * len(streams)
    assert len(set(identifiers)) == len(identifiers)


@settings(deadline=None)
@given(
    items=st.lists(
        st.one_of(
            readings(st.integers(0, 2 * BEFORE_2100_MS)).map(Reading.item), broken, json_values
        ),
        max_size=15,
    )
)
def test_transform_is_deterministic(items: list[JsonValue]) -> None:
    raw = payload(items)
    first = transform(raw)
    again = transform(RawPayload(**{**raw.to_avro(), "body": bytes(bytearray(raw.body))}))
    assert first == again


@settings(deadline=None)
@given(
    valid=unique_readings(max_size=15),
    bad=st.lists(st.one_of(broken, non_objects), max_size=10),
    data=st.data(),
    seed=st.integers(0, 2**32),
)
def test_every_item_is_accounted_for(
    valid: list[Reading], bad: list[JsonValue], data: st.DataObject, seed: int
) -> None:
    duplicates = data.draw(st.lists(st.sampled_from(valid), max_size=5)) if valid else []
    conflicts = (
        data.draw(st.lists(st.sampled_from(valid), max_size=3, unique_by=lambda r: r.date))
        if valid
        else []
    )
    conflicting = [
        {**r.item(), "Value": MIN_SGV if r.value != MIN_SGV else MAX_SGV} for r in conflicts
    ]
    items: list[JsonValue] = [r.item() for r in valid + duplicates] + bad
    random.Random(seed).shuffle(items)
    # After their originals: the first item with a given WT is the one kept.
    items += conflicting
    raw = payload(items)
    output = transform(raw)
    assert_well_formed(output, raw)

    assert len(output.records) == len(valid)
    assert len(output.rejected) == len(bad) + len(conflicting)
    assert len(output.records) + len(output.rejected) + len(duplicates) == len(items)
    rejected_items = Counter(json.dumps(json.loads(r.fragment)) for r in output.rejected)
    assert rejected_items == Counter(json.dumps(i) for i in bad + conflicting)


@settings(deadline=None)
@given(batch=unique_readings(min_size=1))
def test_documents_round_trip_through_avro(batch: list[Reading]) -> None:
    serde = make_serde("entry", subject="t")
    for record in transform(payload([r.item() for r in batch])).records:
        encoded = serde.encode(to_avro(record))
        assert from_avro(Collection.ENTRIES, serde.decode(encoded)) == record


@settings(deadline=None)
@given(body=st.binary(max_size=300), status=st.sampled_from([200, 200, 204, 401, 500]))
def test_arbitrary_bytes_never_raise(body: bytes, status: int) -> None:
    raw = raw_payload(body, http_status=status)
    output = transform(raw)
    assert_well_formed(output, raw)
    if not 200 <= status <= 299:
        assert output.records == []
        assert [r.fragment for r in output.rejected] == [body]


@settings(deadline=None)
@given(value=json_values)
def test_arbitrary_json_bodies_never_raise(value: JsonValue) -> None:
    raw = raw_payload(json.dumps(value).encode("utf-8"))
    output = transform(raw)
    assert_well_formed(output, raw)
    if isinstance(value, list):
        assert len(output.records) + len(output.rejected) <= len(value)
        for rejected in output.rejected:
            assert json.dumps(json.loads(rejected.fragment)) in {json.dumps(v) for v in value}
    else:
        assert output.records == []
        assert len(output.rejected) == 1


@settings(deadline=None)
@given(
    reading=readings(st.integers(AFTER_2000_MS, BEFORE_2100_MS)),
    key=st.sampled_from(["WT", "ST", "DT", "Value", "Trend", "Other"]),
    value=json_values,
)
def test_arbitrary_field_values_give_a_document_or_a_rejection(
    reading: Reading, key: str, value: JsonValue
) -> None:
    raw = payload([{**reading.item(), key: value}])
    output = transform(raw)
    assert_well_formed(output, raw)
    assert len(output.records) + len(output.rejected) == 1


def test_deeply_nested_and_huge_bodies_are_rejected_not_raised() -> None:
    for body in (
        b"[" * 100_000,
        b"[" + b"9" * 5000 + b"]",
        b'[{"WT":"Date(1750154405923)","DT":"Date(1750154405923)","Trend":4,"Value":1'
        + b"0" * 4000
        + b"}]",
    ):
        output = transform(raw_payload(body))
        assert output.records == []
        assert len(output.rejected) == 1

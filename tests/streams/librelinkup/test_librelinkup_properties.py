"""Properties of the LibreLinkUp transform: sync identity, accounting, robustness."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nightstream.schemas.documents import Collection
from nightstream.schemas.identity import device_name, entry_identifier
from nightstream.schemas.records import RawPayload
from nightstream.simulators.librelinkup.formats import llu_time
from nightstream.streams.librelinkup import transform
from nightstream.streams.librelinkup.entries import DIRECTIONS, MAX_SGV, MIN_SGV, NOT_COMPUTABLE
from nightstream.streams.transform import TransformOutput
from tests.streams.dexcomshare.test_dexcomshare_properties import json_values

JsonValue = Any
MINUTE_MS = 60_000
AFTER_2000_S = 946_684_801
BEFORE_2100_S = 4_102_444_799
FETCHED_AT_MS = BEFORE_2100_S * 1000 + 1

digests = st.text("0123456789abcdef", min_size=12, max_size=12)
offsets = st.integers(-14 * 60, 14 * 60)
ITEM_KEYS = ["FactoryTimestamp", "Timestamp", "ValueInMgPerDl", "TrendArrow", "Value", "type"]


@dataclass(frozen=True)
class Reading:
    second: int
    mgdl: int
    offset_minutes: int

    @property
    def date_ms(self) -> int:
        return self.second * 1000

    def item(self, arrow: JsonValue = None, *, current: bool = False) -> dict[str, JsonValue]:
        local_ms = self.date_ms + self.offset_minutes * MINUTE_MS
        item: dict[str, JsonValue] = {
            "FactoryTimestamp": llu_time(self.date_ms),
            "Timestamp": llu_time(local_ms),
            "type": int(current),
            "ValueInMgPerDl": self.mgdl,
            "GlucoseUnits": 1,
            "Value": self.mgdl,
        }
        if current:
            item["TrendArrow"] = arrow
        return item


def readings(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[list[Reading]]:
    one = st.builds(
        Reading,
        second=st.integers(AFTER_2000_S, BEFORE_2100_S),
        mgdl=st.integers(MIN_SGV, MAX_SGV),
        offset_minutes=offsets,
    )
    return st.lists(one, min_size=min_size, max_size=max_size, unique_by=lambda r: r.second)


def graph_body(
    history: list[Reading],
    current: Reading | None = None,
    arrow: JsonValue = 3,
    sensor_a: JsonValue = None,
) -> bytes:
    connection: dict[str, JsonValue] = {
        "patientId": "p",
        "glucoseMeasurement": None if current is None else current.item(arrow, current=True),
        "sensor": None if sensor_a is None else {"sn": "x", "a": sensor_a},
    }
    data = {
        "connection": connection,
        "activeSensors": [],
        "graphData": [reading.item() for reading in history],
    }
    return json.dumps({"status": 0, "data": data, "ticket": {"token": "redacted"}}).encode()


_TEMPLATE = RawPayload(
    link_id="link-1",
    vendor="librelinkup",
    endpoint="graph",
    fetched_at_ms=FETCHED_AT_MS,
    http_status=200,
    body=b"",
    poller_version="test",
)


def payload(body: bytes, *, stream: str = "3f9a1c0b7e42", http_status: int = 200) -> RawPayload:
    params = {"stream": stream, "region": "eu"}
    return replace(_TEMPLATE, body=body, http_status=http_status, request_params=params)


def by_identifier(output: TransformOutput) -> dict[str, dict[str, JsonValue]]:
    return {r.identifier: r.document for r in output.records}


def assert_well_formed(output: TransformOutput) -> None:
    for record in output.records:
        doc = record.document
        assert doc["date"] > 946_684_800_000
        assert doc["date"] <= FETCHED_AT_MS + 3_600_000
        if record.collection is Collection.ENTRIES:
            assert MIN_SGV <= doc["sgv"] <= MAX_SGV
            assert doc["identifier"] == entry_identifier(doc["device"], doc["date"], "sgv")
    for rejected in output.rejected:
        assert isinstance(rejected.fragment, bytes)
        rejected.reason.encode("utf-8")


@settings(deadline=None)
@given(all_readings=readings(min_size=2, max_size=30), data=st.data())
def test_overlapping_polls_give_the_same_identifiers_and_documents(
    all_readings: list[Reading], data: st.DataObject
) -> None:
    ordered = sorted(all_readings, key=lambda r: r.second)
    n = len(ordered)
    a_start = data.draw(st.integers(0, n - 2))
    a_end = data.draw(st.integers(a_start + 1, n - 1))
    b_start = data.draw(st.integers(a_start, a_end - 1))
    b_end = data.draw(st.integers(a_end, n - 1))
    # Each poll: a window of history plus, as its current reading, the next one after it.
    poll_a = transform(payload(graph_body(ordered[a_start:a_end], ordered[a_end])))
    poll_b = transform(payload(graph_body(ordered[b_start:b_end], ordered[b_end])))
    docs_a, docs_b = by_identifier(poll_a), by_identifier(poll_b)
    assert len(docs_a) == a_end - a_start + 1
    assert len(docs_b) == b_end - b_start + 1
    history_a = {k for k, d in docs_a.items() if "direction" not in d}
    history_b = {k for k, d in docs_b.items() if "direction" not in d}
    assert len(history_a & history_b) == a_end - b_start
    for identifier in history_a & history_b:
        assert docs_a[identifier] == docs_b[identifier]
    again = transform(payload(graph_body(ordered[a_start:a_end], ordered[a_end])))
    assert again == poll_a


@settings(deadline=None)
@given(
    batch=readings(min_size=1, max_size=10),
    streams=st.lists(digests, min_size=2, max_size=4, unique=True),
    sensor_s=st.integers(AFTER_2000_S, BEFORE_2100_S),
)
def test_identifiers_are_unique_across_patients(
    batch: list[Reading], streams: list[str], sensor_s: int
) -> None:
    body = graph_body(batch[1:], batch[0], sensor_a=sensor_s)
    seen: dict[str, str] = {}
    for stream in streams:
        output = transform(payload(body, stream=stream))
        assert len(output.records) == len(batch) + 1
        for record in output.records:
            assert record.document["device"] == device_name("librelinkup", stream)
            assert seen.setdefault(record.identifier, stream) == stream


@settings(deadline=None)
@given(reading=readings(min_size=1, max_size=1), arrow=json_values | st.integers(-3, 9))
def test_current_direction_follows_the_arrow_table(
    reading: list[Reading], arrow: JsonValue
) -> None:
    (record,) = transform(payload(graph_body([], reading[0], arrow=arrow))).records
    expected = DIRECTIONS.get(arrow, NOT_COMPUTABLE) if type(arrow) is int else NOT_COMPUTABLE
    assert record.document["direction"] == expected


@settings(deadline=None)
@given(reading=readings(min_size=1, max_size=1))
def test_factory_timestamp_is_utc_whatever_the_phone_says(reading: list[Reading]) -> None:
    (record,) = transform(payload(graph_body(reading))).records
    assert record.document["date"] == reading[0].date_ms
    assert record.document["utcOffset"] == reading[0].offset_minutes


@settings(deadline=None)
@given(
    good=readings(min_size=0, max_size=8),
    bad=st.lists(st.dictionaries(st.sampled_from(ITEM_KEYS), json_values, max_size=6), max_size=8),
    data=st.data(),
)
def test_bad_items_are_rejected_alone_and_good_ones_still_come(
    good: list[Reading], bad: list[dict[str, JsonValue]], data: st.DataObject
) -> None:
    items: list[JsonValue] = [reading.item() for reading in good]
    for broken in bad:
        items.insert(data.draw(st.integers(0, len(items))), broken)
    body = json.dumps({"status": 0, "data": {"graphData": items}}).encode()
    output = transform(payload(body))
    assert_well_formed(output)
    dates = {r.document["date"] for r in output.records}
    assert {reading.date_ms for reading in good} <= dates
    assert len(output.records) + len(output.rejected) <= len(items)


@settings(deadline=None)
@given(body=st.binary(max_size=300), status=st.sampled_from([200, 200, 403, 429, 500]))
def test_arbitrary_bytes_never_raise(body: bytes, status: int) -> None:
    output = transform(payload(body, http_status=status))
    assert_well_formed(output)
    if status != 200:
        assert output.records == []
        assert [r.fragment for r in output.rejected] == [body]


@settings(deadline=None)
@given(value=json_values)
def test_arbitrary_json_bodies_never_raise(value: JsonValue) -> None:
    output = transform(payload(json.dumps(value).encode()))
    assert_well_formed(output)
    assert output.records == [] or isinstance(value, dict)


@settings(deadline=None)
@given(
    connection=json_values,
    active=json_values,
    history=json_values,
    item=st.dictionaries(st.sampled_from(ITEM_KEYS), json_values, max_size=6),
)
def test_arbitrary_parts_never_raise(
    connection: JsonValue, active: JsonValue, history: JsonValue, item: JsonValue
) -> None:
    for data in (
        {"connection": connection, "activeSensors": active, "graphData": history},
        {"connection": {"glucoseMeasurement": item, "sensor": connection}, "graphData": [item]},
        {"activeSensors": [{"sensor": active}, active], "graphData": [history]},
    ):
        raw = payload(json.dumps({"status": 0, "data": data}).encode())
        assert_well_formed(transform(raw))


def test_deeply_nested_and_huge_bodies_are_rejected_not_raised() -> None:
    for body in (
        b"{" * 100_000,
        b'{"status":0,"data":{"graphData":[' * 5_000,
        b'{"status":0,"data":{"graphData":[{"ValueInMgPerDl":1' + b"0" * 5000 + b"}]}}",
    ):
        output = transform(payload(body))
        assert output.records == []
        assert len(output.rejected) == 1

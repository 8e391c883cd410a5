"""Malformed vendor payloads through every registered transform.

Whatever the bytes: no exception escapes, every good item still becomes its document, and every
item of the payload is accounted for, as one document or as one rejection carrying its exact
original bytes and a reason (a payload that cannot be read at all is one rejection carrying the
whole body). The processor turns each rejection into a dead letter (stage ``transform``); that
part is proved on a real broker in tests/integration/test_bad_input_dlq.py.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.identity import payload_stream
from nightstream.schemas.records import RawPayload
from nightstream.streams.registry import TRANSFORMS
from nightstream.streams.tandem.codes import MAPPED_CODES
from nightstream.streams.tandem.events import event_code
from nightstream.streams.transform import Transform, TransformOutput

JsonValue = Any
FETCHED_AT_MS = 1_750_000_000_000
STREAM = "3f9a1c0b7e42"
FIVE_MIN_MS = 300_000
MAX_READING_SLOTS = 250
DATE_FLAWS = 14
# Long enough to read in a DLQ browser, short enough never to carry a whole body.
MAX_REASON_CHARS = 300
_RAW = "\u0000raw\u0000"


def json_text(value: JsonValue, raw: dict[str, str] | None = None) -> bytes:
    """``value`` as compact JSON; string values equal to a key of ``raw`` are written as that
    key's text unquoted, for what ``json.dumps`` cannot write (5000-digit numbers, NaN...)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for marker, literal in (raw or {}).items():
        text = text.replace(json.dumps(marker), literal)
    return text.encode("utf-8")


def replaced(item: dict[str, JsonValue], name: str, value: JsonValue) -> dict[str, JsonValue]:
    """``item`` with field ``name`` (``a.b`` names field ``b`` of object ``a``) set to ``value``."""
    head, _, rest = name.partition(".")
    if rest:
        return {**item, head: replaced(item[head], rest, value)}
    return {**item, name: value}


def dropped(item: dict[str, JsonValue], name: str) -> dict[str, JsonValue]:
    """``item`` without field ``name`` (dotted as in ``replaced``)."""
    head, _, rest = name.partition(".")
    if rest:
        return {**item, head: dropped(item[head], rest)}
    return {k: v for k, v in item.items() if k != name}


def with_field(item: dict[str, JsonValue], name: str, literal: str) -> bytes:
    """``item`` with field ``name`` set to the JSON text ``literal``."""
    return json_text(replaced(item, name, _RAW), {_RAW: literal})


def without_field(item: dict[str, JsonValue], name: str) -> bytes:
    return json_text(dropped(item, name))


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def llu_time(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    hour = moment.hour % 12 or 12
    half = "PM" if moment.hour >= 12 else "AM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {half}"


def reading_ms(slot: int) -> int:
    return FETCHED_AT_MS - (slot + 1) * FIVE_MIN_MS


@dataclass(frozen=True)
class VendorCase:
    """How one vendor writes a reading and a graph/readings answer around it."""

    vendor: str
    endpoint: str
    good_item: Callable[[int], dict[str, JsonValue]]
    """The reading in ``slot`` (0: newest); each slot has its own time."""
    envelope: Callable[[list[bytes]], bytes]
    """A successful answer whose readings are exactly these JSON texts, in this order."""
    required: tuple[str, ...]
    value_field: str
    date_flaws: Callable[[int], list[tuple[str, str]]]
    """(field, JSON text) pairs that make the reading in ``slot`` impossible."""
    wrong_top_level: tuple[bytes, ...]
    source_tz: str | None = None
    clamped: tuple[str, ...] = ()
    """Values of ``value_field`` the vendor's documented clamping turns into a reading."""
    unmapped: Callable[[dict[str, JsonValue]], bool] = lambda item: False
    """Items the vendor's mapping deliberately passes over (neither document nor rejection)."""

    def raw(
        self,
        body: bytes,
        *,
        http_status: int = 200,
        stream: str | None = STREAM,
        link_id: str = "link-1",
    ) -> RawPayload:
        return RawPayload(
            link_id=link_id,
            vendor=self.vendor,
            endpoint=self.endpoint,
            fetched_at_ms=FETCHED_AT_MS,
            http_status=http_status,
            body=body,
            poller_version="test",
            request_params={} if stream is None else {"stream": stream},
            source_tz=self.source_tz,
        )

    def body(self, slots: list[int]) -> bytes:
        return self.envelope([json_text(self.good_item(slot)) for slot in slots])

    @property
    def transform(self) -> Transform:
        return TRANSFORMS[self.vendor]


def _dexcom_item(slot: int) -> dict[str, JsonValue]:
    ms = reading_ms(slot)
    return {
        "WT": f"Date({ms})",
        "ST": f"Date({ms})",
        "DT": f"Date({ms}-0500)",
        "Value": 40 + (slot * 7) % 360,
        "Trend": "Flat",
    }


def _dexcom_date_flaws(slot: int) -> list[tuple[str, str]]:
    ms = reading_ms(slot)
    return [
        ("WT", '"Date(-1)"'),
        ("WT", '"Date(0)"'),
        ("WT", '"Date(946684800000)"'),
        ("WT", '"Date(99999999999999999999)"'),
        ("WT", f'"Date({FETCHED_AT_MS + 2 * 3_600_000})"'),
        ("WT", f'"/Date({ms})"'),
        ("WT", f'"Date({ms / 1000}e3)"'),
        ("WT", '"2025-06-15T10:00:00Z"'),
        ("WT", '"Date(\uff11\uff17\uff15\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10)"'),
        ("WT", '""'),
        ("WT", str(ms)),
        ("DT", f'"Date({ms}+0099)"'),
        ("DT", f'"Date({ms}+1500)"'),
        ("DT", '"Date(x)"'),
    ]


DEXCOM = VendorCase(
    vendor="dexcomshare",
    endpoint="Publisher/ReadPublisherLatestGlucoseValues",
    good_item=_dexcom_item,
    envelope=lambda items: b"[" + b",".join(items) + b"]",
    required=("WT", "DT", "Value", "Trend"),
    value_field="Value",
    date_flaws=_dexcom_date_flaws,
    wrong_top_level=(b"{}", b'{"Code":"SessionNotValid"}', b"null", b"42", b'"text"', b"true"),
)


def _llu_item(slot: int) -> dict[str, JsonValue]:
    ms = reading_ms(slot)
    value = 40 + (slot * 7) % 460
    return {
        "FactoryTimestamp": llu_time(ms),
        "Timestamp": llu_time(ms + 120 * 60_000),
        "type": 0,
        "ValueInMgPerDl": value,
        "Value": value,
        "GlucoseUnits": 1,
    }


def _llu_date_flaws(slot: int) -> list[tuple[str, str]]:
    ms = reading_ms(slot)
    return [
        ("FactoryTimestamp", '"2/30/2024 1:00:00 AM"'),
        ("FactoryTimestamp", '"13/1/2024 1:00:00 AM"'),
        ("FactoryTimestamp", '"1/1/1999 1:00:00 AM"'),
        ("FactoryTimestamp", '"1/1/0000 1:00:00 AM"'),
        ("FactoryTimestamp", '"12/31/9999 11:59:59 PM"'),
        ("FactoryTimestamp", '"1/1/2024 13:00:00 PM"'),
        ("FactoryTimestamp", '"1/1/2024 0:00:00 AM"'),
        ("FactoryTimestamp", '"1/1/2024 1:00:00"'),
        ("FactoryTimestamp", '"2024-01-01T00:00:00Z"'),
        ("FactoryTimestamp", '"\uff11/1/2024 1:00:00 AM"'),
        ("FactoryTimestamp", str(ms)),
        ("Timestamp", json.dumps(llu_time(ms + 15 * 3_600_000))),
        ("Timestamp", json.dumps(llu_time(ms + 30_000))),
        ("Timestamp", '"1/1/0001 1:00:00 AM"'),
    ]


def _llu_envelope(items: list[bytes]) -> bytes:
    head = (
        b'{"status":0,"data":{"connection":{"patientId":"p","glucoseMeasurement":null,'
        b'"sensor":null},"activeSensors":[],"graphData":['
    )
    return head + b",".join(items) + b']},"ticket":{"token":"redacted","expires":1}}'


LIBRELINKUP = VendorCase(
    vendor="librelinkup",
    endpoint="graph",
    good_item=_llu_item,
    envelope=_llu_envelope,
    required=("FactoryTimestamp", "Timestamp", "ValueInMgPerDl"),
    value_field="ValueInMgPerDl",
    date_flaws=_llu_date_flaws,
    wrong_top_level=(b"[]", b"null", b"42", b'"text"', b"true", b'{"status":0}'),
)

TANDEM_ZONE = ZoneInfo("America/New_York")


def _tandem_wall(slot: int) -> datetime:
    return datetime.fromtimestamp(reading_ms(slot) / 1000, TANDEM_ZONE).replace(tzinfo=None)


def _tandem_seconds(wall: datetime) -> int:
    return int((wall - datetime(2008, 1, 1)).total_seconds())  # noqa: DTZ001


def _tandem_item(slot: int) -> dict[str, JsonValue]:
    wall = _tandem_wall(slot)
    return {
        "deviceAssignmentId": "6f1c2b7a-0d7e-4c55-9a53-2f4f8f0c9b11",
        "eventCode": 399,
        "sequenceGroup": 1,
        "sequenceNumber": 100_000 + slot,
        "pumpDateTime": (wall + timedelta(seconds=30)).isoformat(),
        "estimatedDateTime": (wall + timedelta(seconds=30)).isoformat() + "Z",
        "eventProperties": {
            "rate": 3,
            "cgmDataType": [0],
            "glucoseValueStatus": 0,
            "currentGlucoseDisplayValue": 40 + (slot * 7) % 360,
            "egvTimeStamp": _tandem_seconds(wall),
            "egvInfoBitmask": [0, 5, 6],
        },
    }


def _tandem_date_flaws(slot: int) -> list[tuple[str, str]]:
    wall = _tandem_wall(slot)
    egv = "eventProperties.egvTimeStamp"
    return [
        (egv, "-1"),
        (egv, "0"),
        (egv, str(2**32)),
        (egv, "1e3"),
        (egv, str(_tandem_seconds(wall) + 2 * 3600)),
        (egv, json.dumps(str(_tandem_seconds(wall)))),
        (egv, "99999999999999999999"),
        ("pumpDateTime", '"2025-02-30T10:00:00"'),
        ("pumpDateTime", json.dumps(wall.isoformat() + "Z")),
        ("pumpDateTime", '"1999-12-31T23:00:00"'),
        ("pumpDateTime", '"9999-12-31T23:59:59"'),
        ("pumpDateTime", '""'),
        ("pumpDateTime", json.dumps(wall.isoformat(sep=" "))),
        ("pumpDateTime", str(reading_ms(slot))),
    ]


def _tandem_unmapped(item: dict[str, JsonValue]) -> bool:
    try:
        return event_code(item) not in MAPPED_CODES
    except BadRecordError:
        return False


TANDEM = VendorCase(
    vendor="tandem",
    endpoint="pump-logs",
    good_item=_tandem_item,
    envelope=lambda items: b'{"events":[' + b",".join(items) + b'],"clockChanges":[]}',
    required=(
        "eventCode",
        "sequenceNumber",
        "sequenceGroup",
        "pumpDateTime",
        "eventProperties",
        "eventProperties.egvTimeStamp",
        "eventProperties.currentGlucoseDisplayValue",
        "eventProperties.glucoseValueStatus",
    ),
    value_field="eventProperties.currentGlucoseDisplayValue",
    date_flaws=_tandem_date_flaws,
    wrong_top_level=(
        b"[]",
        b"null",
        b"42",
        b'"text"',
        b"true",
        b'{"clockChanges":[]}',
        b'{"events":{}}',
    ),
    source_tz="America/New_York",
    # Tandem's web app shows readings below 40 as 39 and above 400 as 401 (the reference).
    clamped=("38", "600"),
    unmapped=_tandem_unmapped,
)

CASES = {case.vendor: case for case in (DEXCOM, LIBRELINKUP, TANDEM)}
VENDORS = sorted(CASES)


FlawKind = Literal["required field", "value", "date", "item"]


@dataclass(frozen=True)
class Flaw:
    """One way to spoil a reading: a field (by role, so it fits every vendor) set to a JSON
    text or removed (``literal`` None), or the whole item replaced by ``literal``."""

    kind: FlawKind
    literal: str | None
    index: int = 0

    @property
    def label(self) -> str:
        if self.kind == "date":
            return f"impossible date {self.index}"
        if self.literal is None:
            shown = "removed"
        elif len(self.literal) > 12:
            shown = f"{self.literal[:6]}...({len(self.literal)} chars)"
        else:
            shown = self.literal
        return f"{self.kind} {self.index} {shown}"

    def field(self, case: VendorCase) -> str:
        if self.kind == "required field":
            return case.required[self.index % len(case.required)]
        if self.kind == "date":
            return case.date_flaws(0)[self.index][0]
        return case.value_field

    def spoil(self, case: VendorCase, slot: int) -> bytes:
        if self.kind == "item":
            assert self.literal is not None
            return self.literal.encode()
        item = case.good_item(slot)
        if self.kind == "date":
            name, literal = case.date_flaws(slot)[self.index]
            return with_field(item, name, literal)
        if self.literal is None:
            return without_field(item, self.field(case))
        return with_field(item, self.field(case), self.literal)

    def mentions(self, case: VendorCase) -> str:
        """What the rejection reason must name."""
        return "expected an object" if self.kind == "item" else self.field(case)


HUGE_OR_WRONG_VALUES = (
    '"120"',
    "120.5",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "0",
    "-1",
    "38",
    "600",
    "1" + "0" * 30,
    "1e308",
    "9" * 4300,
    "9" * 5000,
    "-" + "9" * 5000,
)
WRONG_TYPES = (None, "null", "true", "[]", "{}", nested(200))
NOT_OBJECTS = ("null", "1", '"reading"', "[]", "true", nested(300), "9" * 5000)
FLAWS = (
    [
        Flaw("required field", literal, index)
        for index in range(max(len(case.required) for case in CASES.values()))
        for literal in WRONG_TYPES
    ]
    + [Flaw("value", literal) for literal in HUGE_OR_WRONG_VALUES]
    + [Flaw("date", None, index) for index in range(DATE_FLAWS)]
    + [Flaw("item", literal) for literal in NOT_OBJECTS]
)


def flaws_of(case: VendorCase) -> list[Flaw]:
    """The flaws that spoil a reading of ``case`` (all but its documented clamping)."""
    return [f for f in FLAWS if not (f.kind == "value" and f.literal in case.clamped)]


VENDOR_FLAWS = [(vendor, flaw) for vendor in VENDORS for flaw in flaws_of(CASES[vendor])]


def assert_sound(output: TransformOutput, raw: RawPayload) -> None:
    """What holds for any payload: documents belong to the payload's stream, and each rejection
    carries a readable reason and bytes that are a piece of the body as received."""
    for record in output.records:
        assert record.stream == payload_stream(raw.vendor, raw.request_params)
        assert record.document["identifier"]
    for rejected in output.rejected:
        assert rejected.reason
        assert len(rejected.reason) <= MAX_REASON_CHARS, rejected.reason[:100]
        rejected.reason.encode("utf-8")
        assert isinstance(rejected.fragment, bytes)
        assert rejected.fragment in raw.body


def document_dates(output: TransformOutput) -> Counter[int]:
    return Counter(int(record.document["date"]) for record in output.records)


def assert_whole_payload_rejected(output: TransformOutput, raw: RawPayload) -> None:
    assert output.records == []
    assert len(output.rejected) == 1
    assert output.rejected[0].fragment == raw.body
    assert output.rejected[0].reason


def test_every_registered_transform_is_covered_here() -> None:
    assert set(CASES) == set(TRANSFORMS)
    for case in CASES.values():
        assert len(case.date_flaws(0)) == DATE_FLAWS


@pytest.mark.parametrize("vendor", VENDORS)
def test_good_readings_give_one_document_each(vendor: str) -> None:
    case = CASES[vendor]
    raw = case.raw(case.body(list(range(10))))
    output = case.transform(raw)
    assert output.rejected == []
    assert document_dates(output) == Counter(reading_ms(slot) for slot in range(10))


@pytest.mark.parametrize(
    ("vendor", "flaw"), VENDOR_FLAWS, ids=[f"{v}-{flaw.label}" for v, flaw in VENDOR_FLAWS]
)
def test_each_bad_item_is_rejected_alone_with_its_bytes(vendor: str, flaw: Flaw) -> None:
    case = CASES[vendor]
    bad = flaw.spoil(case, 1)
    items = [json_text(case.good_item(0)), bad, json_text(case.good_item(2))]
    raw = case.raw(case.envelope(items))
    output = case.transform(raw)
    assert_sound(output, raw)
    assert document_dates(output) == Counter([reading_ms(0), reading_ms(2)])
    assert [r.fragment for r in output.rejected] == [bad]
    assert flaw.mentions(case) in output.rejected[0].reason


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_flaw_at_once_among_good_readings(vendor: str) -> None:
    case = CASES[vendor]
    flaws = flaws_of(case)
    good_slots = list(range(0, 2 * len(flaws), 2))
    items: list[bytes] = []
    bad: list[bytes] = []
    for good_slot, flaw in zip(good_slots, flaws, strict=True):
        items.append(json_text(case.good_item(good_slot)))
        bad.append(flaw.spoil(case, good_slot + 1))
        items.append(bad[-1])
    raw = case.raw(case.envelope(items))
    output = case.transform(raw)
    assert_sound(output, raw)
    assert document_dates(output) == Counter(reading_ms(slot) for slot in good_slots)
    assert Counter(r.fragment for r in output.rejected) == Counter(bad)
    assert len(output.records) + len(output.rejected) == len(items)


def _whole_payload_bodies(case: VendorCase) -> list[tuple[str, bytes]]:
    good = case.body([0, 1, 2])
    bodies = [
        ("empty", b""),
        ("blank", b" \r\n\t "),
        ("not JSON", b"not json at all"),
        ("HTML error page", b"<html><body>502 Bad Gateway</body></html>"),
        ("trailing garbage", good + b"garbage"),
        ("two documents", good + good),
        ("not UTF-8", b"\xff\xfe\x00\x80" + good),
        ("UTF-16", good.decode().encode("utf-16")),
        ("deep nesting", b"[" * 100_000),
        ("deep nesting, closed", nested(50_000).encode()),
        ("unterminated string", good[: good.index(b'"') + 3]),
    ]
    bodies += [(f"truncated at {cut}", good[:cut]) for cut in (1, 2, len(good) // 2, len(good) - 1)]
    bodies += [(f"top level {body[:8]!r}", body) for body in case.wrong_top_level]
    return bodies


@pytest.mark.parametrize("vendor", VENDORS)
def test_unreadable_payloads_are_one_rejection_carrying_the_whole_body(vendor: str) -> None:
    case = CASES[vendor]
    for label, body in _whole_payload_bodies(case):
        raw = case.raw(body)
        output = case.transform(raw)
        assert_sound(output, raw)
        assert output.records == [], label
        assert [r.fragment for r in output.rejected] == [body], label


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("status", [0, 199, 204, 301, 400, 401, 403, 404, 429, 500, 503, 999])
def test_error_answers_are_one_rejection_even_with_readings_in_them(
    vendor: str, status: int
) -> None:
    case = CASES[vendor]
    raw = case.raw(case.body([0, 1]), http_status=status)
    output = case.transform(raw)
    assert_sound(output, raw)
    if 200 <= status <= 299:
        assert len(output.records) == 2
    else:
        assert_whole_payload_rejected(output, raw)
        assert str(status) in output.rejected[0].reason


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("stream", [None, "", "3F9A1C0B7E42", "3f9a1c0b7e4", "3f9a1c0b7e42\n"])
def test_payloads_without_a_usable_stream_digest_are_rejected_whole(
    vendor: str, stream: str | None
) -> None:
    case = CASES[vendor]
    raw = case.raw(case.body([0, 1]), stream=stream)
    output = case.transform(raw)
    assert_whole_payload_rejected(output, raw)
    assert "stream" in output.rejected[0].reason


def _at_stack_depth(frames: int, call: Callable[[], TransformOutput]) -> TransformOutput:
    return call() if frames == 0 else _at_stack_depth(frames - 1, call)


@pytest.mark.parametrize("vendor", VENDORS)
def test_nesting_around_the_recursion_limit_never_raises(vendor: str) -> None:
    """However deep the processor's own stack is when it calls the transform, a body nested
    just short of, at or past what the JSON parser manages is read or rejected, never raised."""
    case = CASES[vendor]
    limit = sys.getrecursionlimit()
    for depth in range(limit - 60, limit + 10, 7):
        for body in (
            case.envelope([nested(depth).encode()]),
            case.envelope([with_field(case.good_item(0), case.value_field, nested(depth))]),
            nested(depth).encode(),
        ):
            raw = case.raw(body)
            for frames in (0, 20, 45):
                output = _at_stack_depth(frames, partial(case.transform, raw))
                assert_sound(output, raw)
                assert output.records == []
                assert len(output.rejected) == 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_huge_payload_with_one_bad_reading_keeps_the_others(vendor: str) -> None:
    case = CASES[vendor]
    slots = list(range(MAX_READING_SLOTS))
    items = [json_text(case.good_item(slot)) for slot in slots]
    bad = with_field(case.good_item(MAX_READING_SLOTS), case.value_field, "9" * 20_000)
    items.insert(100, bad)
    raw = case.raw(case.envelope(items))
    output = case.transform(raw)
    assert_sound(output, raw)
    assert document_dates(output) == Counter(reading_ms(slot) for slot in slots)
    assert [r.fragment for r in output.rejected] == [bad]


# Hypothesis: random mixes of good and bad readings.

good_slot_sets = st.lists(st.integers(0, MAX_READING_SLOTS - 1), unique=True, max_size=25)
json_scalars: st.SearchStrategy[JsonValue] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def bad_items(draw: st.DrawFn, case: VendorCase) -> bytes:
    """An item that must be rejected: a catalogued flaw, an object lacking a required field, or
    a JSON value that is not an object."""
    slot = draw(st.integers(MAX_READING_SLOTS, 2 * MAX_READING_SLOTS))
    kind = draw(st.sampled_from(["flaw", "partial", "not an object"]))
    if kind == "flaw":
        return draw(st.sampled_from(flaws_of(case))).spoil(case, slot)
    if kind == "partial":
        missing = draw(st.sampled_from(case.required))
        item = dropped(case.good_item(slot), missing)
        noise = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
        return json_text({**noise, **item})
    value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
    return json_text(value)


@settings(deadline=None, max_examples=150)
@given(vendor=st.sampled_from(VENDORS), data=st.data(), good=good_slot_sets)
def test_random_mixes_are_fully_accounted_for(
    vendor: str, data: st.DataObject, good: list[int]
) -> None:
    case = CASES[vendor]
    bad = data.draw(st.lists(bad_items(case), max_size=15))
    items = data.draw(st.permutations([json_text(case.good_item(slot)) for slot in good] + bad))
    raw = case.raw(case.envelope(items))
    output = case.transform(raw)
    assert_sound(output, raw)
    assert document_dates(output) == Counter(reading_ms(slot) for slot in good)
    assert Counter(r.fragment for r in output.rejected) == Counter(bad)
    assert len(output.records) + len(output.rejected) == len(items)


@settings(deadline=None, max_examples=150)
@given(vendor=st.sampled_from(VENDORS), data=st.data(), value=json_values)
def test_any_value_in_any_field_gives_a_document_or_a_rejection(
    vendor: str, data: st.DataObject, value: JsonValue
) -> None:
    case = CASES[vendor]
    item = case.good_item(3)
    name = data.draw(st.sampled_from([*item, "unexpected"]))
    spoiled = json_text({**item, name: value})
    raw = case.raw(case.envelope([json_text(case.good_item(1)), spoiled]))
    output = case.transform(raw)
    assert_sound(output, raw)
    assert reading_ms(1) in document_dates(output)
    passed_over = case.unmapped({**item, name: value})
    assert len(output.records) + len(output.rejected) + passed_over == 2
    if output.rejected:
        assert [r.fragment for r in output.rejected] == [spoiled]


@settings(deadline=None, max_examples=150)
@given(vendor=st.sampled_from(VENDORS), good=good_slot_sets, data=st.data())
def test_truncated_bodies_are_one_rejection_carrying_the_whole_body(
    vendor: str, good: list[int], data: st.DataObject
) -> None:
    case = CASES[vendor]
    body = case.body(good)
    cut = data.draw(st.integers(0, len(body) - 1))
    raw = case.raw(body[:cut])
    output = case.transform(raw)
    assert_sound(output, raw)
    assert_whole_payload_rejected(output, raw)


@settings(deadline=None, max_examples=150)
@given(
    vendor=st.sampled_from(VENDORS),
    body=st.binary(max_size=400) | json_values.map(json_text),
    status=st.sampled_from([200, 200, 200, 204, 401, 500]),
)
def test_arbitrary_bodies_never_raise_and_rejections_keep_their_bytes(
    vendor: str, body: bytes, status: int
) -> None:
    case = CASES[vendor]
    raw = case.raw(body, http_status=status)
    output = case.transform(raw)
    assert_sound(output, raw)
    if not 200 <= status <= 299:
        assert_whole_payload_rejected(output, raw)


def test_librelinkup_bad_parts_around_the_history_are_rejected_alone() -> None:
    case = LIBRELINKUP
    history = [json_text(case.good_item(slot)) for slot in (5, 6)]
    activation_s = (FETCHED_AT_MS - 5 * 86_400_000) // 1000
    good_sensor = json_text({"sn": "0M000", "a": activation_s})
    bad_parts = {
        "current": with_field(case.good_item(0), "FactoryTimestamp", '"13/13/2024 1:00:00 AM"'),
        "sensor": json_text({"sn": "0M000", "a": "yesterday"}),
        "active huge": with_field({"sn": "0M001"}, "a", "9" * 4300),
        "active negative": with_field({"sn": "0M002"}, "a", "-" + "9" * 4300),
        "active not an object": b'"0M003"',
    }
    body = (
        b'{"status":0,"data":{"connection":{"glucoseMeasurement":'
        + bad_parts["current"]
        + b',"sensor":'
        + bad_parts["sensor"]
        + b'},"activeSensors":[{"sensor":'
        + good_sensor
        + b'},{"sensor":'
        + bad_parts["active huge"]
        + b'},{"sensor":'
        + bad_parts["active negative"]
        + b"},"
        + bad_parts["active not an object"]
        + b'],"graphData":['
        + b",".join(history)
        + b"]}}"
    )
    raw = case.raw(body)
    output = case.transform(raw)
    assert_sound(output, raw)
    assert document_dates(output) == Counter([reading_ms(5), reading_ms(6), activation_s * 1000])
    assert Counter(r.fragment for r in output.rejected) == Counter(bad_parts.values())


@pytest.mark.parametrize(
    ("label", "data", "rejected_part"),
    [
        ("connection not an object", b'{"connection":[1],"graphData":[]}', b"[1]"),
        ("graphData not an array", b'{"graphData":{"a":1}}', b'{"a":1}'),
        ("graphData missing", b'{"connection":null}', b'{"connection":null}'),
        ("activeSensors not an array", b'{"activeSensors":7,"graphData":[]}', b"7"),
    ],
)
def test_librelinkup_misshapen_parts_are_one_rejection_each(
    label: str, data: bytes, rejected_part: bytes
) -> None:
    raw = replace(LIBRELINKUP.raw(b""), body=b'{"status":0,"data":' + data + b"}")
    output = LIBRELINKUP.transform(raw)
    assert_sound(output, raw)
    assert output.records == [], label
    assert [r.fragment for r in output.rejected] == [rejected_part], label

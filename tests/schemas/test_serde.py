from __future__ import annotations

import pytest

from nightstream.schemas.catalog import schema_family
from nightstream.schemas.documents import Collection, NsRecord, content_hash, from_avro, to_avro
from nightstream.schemas.errors import RecordDecodeError, RecordEncodeError
from nightstream.schemas.identity import entry_identifier, nightscout_identifier
from nightstream.schemas.records import RawPayload
from nightstream.schemas.serde import SingleObjectSerde, make_serde


def _entry(**extra: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "identifier": entry_identifier("dev", 1_700_000_000_000, "sgv"),
        "device": "dev",
        "date": 1_700_000_000_000,
        "dateString": "2023-11-14T22:13:20.000Z",
        "type": "sgv",
        "sgv": 120,
        "direction": "Flat",
        "app": "nightstream",
        "utcOffset": -240,
    }
    doc.update(extra)
    return doc


def test_identifier_matches_nightscout_reference_value() -> None:
    key_device = "Samsung XCover 4-861536030196001"
    got = nightscout_identifier(key_device, 1613057404186, "Correction Bolus")
    assert got == "5b0f7124-475f-5db0-824c-a73c5eea0975"


def test_entry_identifier_separates_types_at_the_same_millisecond() -> None:
    sgv = entry_identifier("dev", 1_700_000_000_000, "sgv")
    cal = entry_identifier("dev", 1_700_000_000_000, "cal")
    assert sgv == nightscout_identifier("dev", 1_700_000_000_000)
    assert sgv != cal


def test_single_object_header_carries_the_schema_fingerprint() -> None:
    serde = make_serde("entry", subject="x")
    data = serde.encode(to_avro(NsRecord(Collection.ENTRIES, "link", _entry())))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == schema_family("entry").current.fingerprint


@pytest.mark.parametrize(
    "extra",
    [{}, {"custom": {"nested": [1, 2, None]}}, {"sgv": 120.5}, {"noise": True}, {"trend": 2**40}],
)
def test_documents_round_trip_losslessly(extra: dict[str, object]) -> None:
    serde = make_serde("entry", subject="x")
    record = NsRecord(Collection.ENTRIES, "link", _entry(**extra))
    back = from_avro(Collection.ENTRIES, serde.decode(serde.encode(to_avro(record))))
    assert back.document == record.document
    assert back.stream == "link"
    assert back.content_hash == record.content_hash


def test_devicestatus_nested_objects_round_trip() -> None:
    serde = make_serde("devicestatus", subject="x")
    doc = {
        "identifier": "abc",
        "device": "pump",
        "date": 1_700_000_000_000,
        "pump": {"reservoir": 112.5, "battery": {"percent": 80}},
        "uploaderBattery": 55,
    }
    record = NsRecord(Collection.DEVICESTATUS, "l", doc)
    assert (
        from_avro(Collection.DEVICESTATUS, serde.decode(serde.encode(to_avro(record)))).document
        == doc
    )


def test_integral_floats_hash_like_integers() -> None:
    assert content_hash({"insulin": 1.0}) == content_hash({"insulin": 1})
    assert content_hash({"insulin": 1.5}) != content_hash({"insulin": 1})


def test_raw_payload_round_trip() -> None:
    serde = make_serde("raw_payload", subject="x")
    raw = RawPayload(
        link_id="l",
        vendor="dexcomshare",
        endpoint="ReadPublisherLatestGlucoseValues",
        fetched_at_ms=1,
        http_status=200,
        body=b"[]",
        poller_version="1",
        request_params={"minutes": "1440"},
        window_start_ms=0,
        window_end_ms=1,
    )
    assert RawPayload.from_avro(serde.decode(serde.encode(raw.to_avro()))) == raw


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not Avro single-object"),
        (b'{"json": true}', "not Avro single-object"),
        (b"\xc3\x01" + b"\xff" * 8 + b"\x00", "unknown raw_payload schema fingerprint"),
    ],
)
def test_decode_errors_name_topic_partition_offset(data: bytes, reason: str) -> None:
    serde = make_serde("raw_payload", subject="x")
    with pytest.raises(RecordDecodeError) as caught:
        serde.decode(data, topic="t", partition=3, offset=42)
    assert caught.value.topic == "t"
    assert caught.value.partition == 3
    assert caught.value.offset == 42
    assert reason in str(caught.value)
    assert "partition=3 offset=42" in str(caught.value)


def test_truncated_body_is_a_decode_error() -> None:
    serde = make_serde("raw_payload", subject="x")
    raw = RawPayload("l", "v", "e", 1, 200, b"x" * 100, "1")
    data = serde.encode(raw.to_avro())
    with pytest.raises(RecordDecodeError, match="corrupt"):
        serde.decode(data[:-50], topic="t", partition=0, offset=1)


def test_encode_rejects_records_that_do_not_fit() -> None:
    serde = SingleObjectSerde(schema_family("raw_payload"))
    with pytest.raises(RecordEncodeError):
        serde.encode({"link_id": 5})

"""Golden tests: recorded-style Dexcom Share answers and the exact output they must give.

``golden/<case>.json`` holds the envelope and the body, either as JSON (``body``, sent compact,
the way Dexcom writes it) or as raw text (``body_text``, for bodies JSON cannot express
losslessly). ``golden/<case>.expected.json`` holds the exact records and rejections. After a
deliberate change, rewrite the expected files with ``NIGHTSTREAM_UPDATE_GOLDEN=1`` and review
the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from nightstream.schemas.documents import Collection, from_avro, to_avro
from nightstream.schemas.identity import entry_identifier
from nightstream.schemas.records import RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.streams.dexcomshare import transform
from nightstream.streams.transform import TransformOutput

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(
    path.name.removesuffix(".json")
    for path in GOLDEN.glob("*.json")
    if not path.name.endswith(".expected.json")
)
REQUIRED_CASES = {
    "current_format",
    "old_slash_format_int_trend",
    "dt_offset_dst_change",
    "dt_offset_positive",
    "dt_offset_zero",
    "mixed_good_bad",
    "error_body_http_500",
    "empty_array",
}


def load_payload(case: str) -> RawPayload:
    data = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    if "body_text" in data:
        body = data["body_text"].encode("utf-8")
    else:
        body = json.dumps(data["body"], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return RawPayload(body=body, **data["envelope"])


def render(output: TransformOutput) -> dict[str, Any]:
    return {
        "records": [
            {"collection": r.collection.value, "stream": r.stream, "document": r.document}
            for r in output.records
        ],
        "rejected": [
            {"reason": r.reason, "fragment": r.fragment.decode("utf-8")} for r in output.rejected
        ],
    }


def exact(value: Any) -> str:
    # json.dumps tells 1 from 1.0 and True from 1, which == does not.
    return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False)


def test_required_cases_are_present() -> None:
    assert not REQUIRED_CASES - set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    actual = render(transform(load_payload(case)))
    expected_path = GOLDEN / f"{case}.expected.json"
    if os.environ.get("NIGHTSTREAM_UPDATE_GOLDEN"):
        expected_path.write_text(exact(actual) + "\n", encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert exact(actual) == exact(expected)


@pytest.mark.parametrize("case", CASES)
def test_golden_documents_are_valid_for_nightscout(case: str) -> None:
    raw = load_payload(case)
    records = transform(raw).records
    dates = [r.document["date"] for r in records]
    assert dates == sorted(set(dates))
    for record in records:
        doc = record.document
        assert record.collection is Collection.ENTRIES
        assert record.stream == record.document["device"]
        assert doc["date"] > 946_684_800_000
        assert -1440 <= doc["utcOffset"] <= 1440
        assert doc["app"].strip()
        assert doc["identifier"] == entry_identifier(doc["device"], doc["date"], "sgv")
        assert doc["device"] == f"nightstream://dexcomshare/{raw.request_params['stream']}"


@pytest.mark.parametrize("case", CASES)
def test_golden_documents_round_trip_through_avro(case: str) -> None:
    serde = make_serde("entry", subject="t")
    for record in transform(load_payload(case)).records:
        decoded = from_avro(Collection.ENTRIES, serde.decode(serde.encode(to_avro(record))))
        assert decoded == record
        assert exact(decoded.document) == exact(record.document)
        assert to_avro(record)["extra"] == {}


def test_whole_payload_rejections_keep_the_body() -> None:
    for case in ("error_body_http_500", "truncated_body", "empty_body", "not_an_array"):
        raw = load_payload(case)
        output = transform(raw)
        assert output.records == []
        assert [r.fragment for r in output.rejected] == [raw.body]


def test_item_fragments_are_the_exact_source_bytes() -> None:
    raw = load_payload("mixed_good_bad")
    for rejected in transform(raw).rejected:
        assert rejected.fragment in raw.body


def test_error_reasons_name_the_code_but_not_the_message() -> None:
    (rejected,) = transform(load_payload("error_body_http_500")).rejected
    assert "SessionNotValid" in rejected.reason
    assert "session id" not in rejected.reason

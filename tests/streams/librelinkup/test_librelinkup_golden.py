"""Golden tests: synthetic LibreLinkUp graph answers and the exact output they must give.

``golden/<case>.json`` holds the envelope and the body, either as JSON (``body``, sent compact,
as LibreLinkUp writes it) or as raw text (``body_text``, for bodies JSON cannot express
losslessly). ``golden/<case>.expected.json`` holds the exact records and rejections. After a
deliberate change, rewrite the expected files with ``NIGHTSTREAM_UPDATE_GOLDEN=1`` and review
the diff. Every case is made up: no real account, patient or reading.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nightstream.schemas.documents import Collection, from_avro, to_avro
from nightstream.schemas.identity import entry_identifier, nightscout_identifier
from nightstream.schemas.records import RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.streams.librelinkup import transform
from tests.streams.dexcomshare.test_dexcomshare_golden import exact, render

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(path.stem for path in GOLDEN.glob("*.json") if ".expected" not in path.suffixes)
REQUIRED_CASES = {
    "berlin_winter_mgdl",
    "london_mmol",
    "dst_spring_forward",
    "mixed_good_bad",
    "version_too_old_http_403",
    "patient_not_found",
    "empty_graph_no_sensor",
}
SERDES = {
    Collection.ENTRIES: make_serde("entry", subject="t"),
    Collection.TREATMENTS: make_serde("treatment", subject="t"),
}


def load_payload(case: str) -> RawPayload:
    data = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    text = data.get("body_text")
    if text is None:
        text = json.dumps(data["body"], separators=(",", ":"), ensure_ascii=False)
    return RawPayload(body=text.encode("utf-8"), **data["envelope"])


def test_required_cases_are_present() -> None:
    assert not REQUIRED_CASES - set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    expected = GOLDEN / f"{case}.expected.json"
    actual = exact(render(transform(load_payload(case)))) + "\n"
    if os.environ.get("NIGHTSTREAM_UPDATE_GOLDEN"):
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_golden_documents_are_valid_for_nightscout(case: str) -> None:
    raw = load_payload(case)
    device = f"nightstream://librelinkup/{raw.request_params.get('stream')}"
    for record in transform(raw).records:
        doc = record.document
        assert record.stream == record.document["device"]
        assert doc["device"] == device
        assert doc["app"] == "nightstream"
        assert doc["date"] > 946_684_800_000
        if record.collection is Collection.ENTRIES:
            assert doc["identifier"] == entry_identifier(device, doc["date"], "sgv")
            assert -840 <= doc["utcOffset"] <= 840
        else:
            assert doc["identifier"] == nightscout_identifier(device, doc["date"], "Sensor Start")
            assert "utcOffset" not in doc


def test_golden_documents_round_trip_through_avro() -> None:
    records = [record for case in CASES for record in transform(load_payload(case)).records]
    assert {record.collection for record in records} == set(SERDES)
    for record in records:
        serde = SERDES[record.collection]
        avro = to_avro(record)
        assert avro["extra"] == {}
        decoded = from_avro(record.collection, serde.decode(serde.encode(avro)))
        assert exact(decoded.document) == exact(record.document)


@pytest.mark.parametrize(
    "case", ["version_too_old_http_403", "cloudflare_html_403", "truncated_body", "not_an_object"]
)
def test_whole_payload_rejections_keep_the_body(case: str) -> None:
    raw = load_payload(case)
    output = transform(raw)
    assert (output.records, [r.fragment for r in output.rejected]) == ([], [raw.body])


def test_bad_items_keep_their_exact_bytes_and_good_ones_still_come() -> None:
    raw = load_payload("mixed_good_bad")
    output = transform(raw)
    assert len(output.rejected) > 20
    for rejected in output.rejected:
        assert rejected.fragment in raw.body
    sgvs = sorted(r.document["sgv"] for r in output.records if "sgv" in r.document)
    assert sgvs == [100, 102, 108, 121]


def test_refusal_reasons_name_codes_only() -> None:
    (version,) = transform(load_payload("version_too_old_http_403")).rejected
    assert version.reason == "HTTP 403 from LibreLinkUp with status 920, minimumVersion 4.16.0"
    (patient,) = transform(load_payload("patient_not_found")).rejected
    assert "couldNotLoadPatient" in patient.reason

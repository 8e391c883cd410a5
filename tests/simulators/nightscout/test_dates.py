"""``parseDate`` / ``parseToMoment`` normalisation (reference §3.3)."""

from __future__ import annotations

from typing import Any

import pytest

from nightstream.simulators.nightscout.dates import (
    parse_js_date,
    parse_to_moment,
    to_iso_string,
    to_utc_string,
)
from nightstream.simulators.nightscout.normalization import parse_date


def test_reference_example_with_comma_fraction_and_offset() -> None:
    document: dict[str, Any] = {"date": "2019-06-10T08:07:08,576+02:00"}
    parse_date(document, created_at_fallback=True)
    assert document == {
        "date": 1560146828576,
        "utcOffset": 120,
        "created_at": "2019-06-10T06:07:08.576Z",
    }


@pytest.mark.parametrize(
    ("value", "epoch_ms", "offset"),
    [
        (1560146828576, 1560146828576, 0),
        ("1560146828576", 1560146828576, 0),
        (1560146828, 1560146828000, 0),  # seconds are re-read
        (1560146828.9, 1560146828000, 0),  # moment.unix of the truncated value
        (946684799999, 946684799999000, 0),  # just before 2000 in ms: read as seconds
        ("2019-06-10T08:07:08Z", 1560154028000, 0),
        ("2019-06-10T08:07:08", 1560154028000, 0),  # no offset: UTC
        ("2019-06-10 08:07:08.5-0130", 1560159428500, -90),
        ("20190610T080708Z", 1560154028000, 0),
        ("2019-06-10", 1560124800000, 0),
        ("Mon, 10 Jun 2019 08:07:08 GMT", 1560154028000, 0),
        ("10 Jun 2019 08:07 +0200", 1560146820000, 120),
    ],
)
def test_accepted_date_forms(value: Any, epoch_ms: int, offset: int) -> None:
    parsed = parse_to_moment(value)
    assert parsed is not None
    assert (parsed.epoch_ms, parsed.utc_offset_minutes) == (epoch_ms, offset)


@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        "",
        "ABC",
        -1,
        1,
        "2019-20-60T50:90:90",
        "1999-12-31T23:59:59Z",
        "Tue, 10 Jun 2019 08:07:08 GMT",
        True,
        {"a": 1},
    ],
)
def test_rejected_date_forms(value: Any) -> None:
    assert parse_to_moment(value) is None


def test_created_at_is_the_fallback_and_is_rewritten_as_utc() -> None:
    document: dict[str, Any] = {"created_at": "2019-06-10T08:07:08+02:00"}
    parse_date(document, created_at_fallback=True)
    assert document["date"] == 1560146828000
    assert document["created_at"] == "2019-06-10T06:07:08.000Z"
    assert document["utcOffset"] == 120


def test_an_explicit_utc_offset_is_kept() -> None:
    document: dict[str, Any] = {"date": "2019-06-10T08:07:08+02:00", "utcOffset": 60}
    parse_date(document, created_at_fallback=True)
    assert document["utcOffset"] == 60


def test_without_created_at_fallback_created_at_is_dropped() -> None:
    document: dict[str, Any] = {"date": 1560146828576, "created_at": "whatever"}
    parse_date(document, created_at_fallback=False)
    assert "created_at" not in document


def test_unparseable_date_is_left_for_validation() -> None:
    document: dict[str, Any] = {"date": "ABC"}
    parse_date(document, created_at_fallback=True)
    assert document == {"date": "ABC"}


def test_formatting_helpers() -> None:
    assert to_iso_string(1560146828576) == "2019-06-10T06:07:08.576Z"
    assert to_utc_string(1560146828576) == "Mon, 10 Jun 2019 06:07:08 GMT"
    assert parse_js_date("Mon, 10 Jun 2019 06:07:08 GMT") == 1560146828000
    assert parse_js_date("not a date") is None

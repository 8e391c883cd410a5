"""Identifier algorithm (reference §4.1) and the JavaScript conversions it depends on."""

from __future__ import annotations

import uuid

import pytest

from nightstream.simulators.nightscout import IDENTIFIER_NAMESPACE, calculate_identifier
from nightstream.simulators.nightscout import js_semantics as js


def test_namespace_is_the_ascii_bytes_of_nightscout_rocks() -> None:
    assert uuid.UUID("4e696768-7473-636f-7574-526f636b7321") == IDENTIFIER_NAMESPACE


def test_golden_identifier_from_the_reference() -> None:
    document = {
        "device": "Samsung XCover 4-861536030196001",
        "date": 1613057404186,
        "eventType": "Correction Bolus",
    }
    assert calculate_identifier(document) == "5b0f7124-475f-5db0-824c-a73c5eea0975"


def test_event_type_is_appended_only_when_truthy() -> None:
    without = {"device": "d", "date": 1613057404186}
    assert calculate_identifier({**without, "eventType": ""}) == calculate_identifier(without)
    assert calculate_identifier({**without, "eventType": "Note"}) != calculate_identifier(without)


def test_missing_device_is_the_literal_text_undefined() -> None:
    expected = str(uuid.uuid5(IDENTIFIER_NAMESPACE, "undefined_1613057404186"))
    assert calculate_identifier({"date": 1613057404186}) == expected
    null_device = str(uuid.uuid5(IDENTIFIER_NAMESPACE, "null_1613057404186"))
    assert calculate_identifier({"device": None, "date": 1613057404186}) == null_device


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1613057404186, "1613057404186"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (123456789012345680000.0, "123456789012345680000"),
        (True, "true"),
        (None, "null"),
        ([1, None, "a"], "1,,a"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_javascript_string_conversion(value: object, text: str) -> None:
    assert js.to_string(value) == text


@pytest.mark.parametrize(
    ("text", "numeric"),
    [
        ("12", True),
        (" 12 ", True),
        ("1e3", True),
        ("0x10", True),
        ("", False),
        ("abc", False),
        ("Infinity", False),
        ("12abc", False),
    ],
)
def test_is_number_in_string(text: str, numeric: bool) -> None:
    assert js.is_number_in_string(text) is numeric


def test_strict_equality_never_equates_booleans_and_numbers() -> None:
    assert js.strict_equals(1, 1.0)
    assert not js.strict_equals(True, 1)
    assert not js.strict_equals({"a": 1}, {"a": 1})  # objects are compared by identity

"""JSON values together with their exact source text, so that a rejected item keeps its own
bytes however deep it sits in the body."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nightstream.streams.transform import json_int

_DECODER = json.JSONDecoder(parse_int=json_int)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


@dataclass(frozen=True)
class Located:
    value: Any
    text: str
    """The value's exact text in the body."""

    @property
    def fragment(self) -> bytes:
        return self.text.encode("utf-8")


def located_document(text: str) -> Located:
    """The whole body; raises ValueError or RecursionError when it is not one JSON value."""
    value = _DECODER.decode(text)
    return Located(value, text.strip(" \t\n\r"))


def utf8_text(body: bytes) -> str:
    """``body.decode("utf-8-sig")`` (one leading BOM dropped), without that codec's slow
    incremental decoder; raises the same UnicodeDecodeError."""
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    return body.decode("utf-8")


def located_utf8(body: bytes) -> Located | None:
    """``body`` as one JSON value in UTF-8 (a leading BOM allowed), or None when it is not."""
    try:
        return located_document(utf8_text(body))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def member(node: Located, name: str) -> Located | None:
    """``node[name]`` (the last one, as JSON parsers keep), or None when absent or not an object."""
    if not isinstance(node.value, dict) or name not in node.value:
        return None
    found = None
    for key, child in _children(node.text):
        if key == name:
            found = child
    return found


def elements(node: Located) -> list[Located]:
    """The elements of an array, each with its own text; [] for anything else."""
    if not isinstance(node.value, list):
        return []
    return [child for _, child in _children(node.text)]


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for kinds, name in _KINDS if isinstance(value, kinds)), "value")


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return pos if match is None else match.end()


def _children(text: str) -> Iterator[tuple[str | None, Located]]:
    """Members ``(name, value)`` of the object in ``text`` (already known to be valid JSON), or
    elements ``(None, value)`` of the array."""
    is_object = text[0] == "{"
    pos = _skip(text, 1)
    while text[pos] not in "]}":
        name = None
        if is_object:
            name, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, _skip(text, pos) + 1)  # past the colon
        value, end = _DECODER.raw_decode(text, pos)
        yield name, Located(value, text[pos:end])
        pos = _skip(text, end)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)

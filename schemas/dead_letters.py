"""Dead letters that always fit: a too-large original value is replaced by a reference to it.

A dead letter must never be the record that fails to publish (that would take down the stage
that wanted to report a bad record). Every text field is capped, and an original value that
would push the letter over :data:`~schemas.topics.DEAD_LETTER_MAX_BYTES` is replaced by a small
JSON reference: its SHA-256, its size, and where the original lives when it lives somewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from nightstream.schemas.records import DeadLetter
from nightstream.schemas.topics import DEAD_LETTER_MAX_BYTES

REASON_MAX_CHARS = 4096
FIELD_MAX_CHARS = 1024
KEY_MAX_BYTES = 1024
FRAMING_ALLOWANCE = 1024
"""Avro varints, union indexes and the wire header (10 bytes single-object, 5 Confluent)."""
REFERENCE_KIND = "nightstream.dead-letter.reference"
_ELLIPSIS = "…"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def value_reference(value: bytes, **where: str | int | None) -> bytes:
    """A small JSON stand-in for ``value``: its hash and size, plus where it can be found."""
    reference: dict[str, str | int | None] = {
        "kind": REFERENCE_KIND,
        "sha256": sha256_hex(value),
        "size": len(value),
    }
    reference.update(where)
    return json.dumps(reference, sort_keys=True).encode()


def bounded_dead_letter(letter: DeadLetter, limit: int = DEAD_LETTER_MAX_BYTES) -> DeadLetter:
    """``letter`` with every field small enough that its encoded form stays within ``limit``.

    The original value is kept whole when it fits; otherwise it becomes a reference (see
    :func:`value_reference`) naming the source topic, partition and offset, and the reason says
    so.
    """
    capped = replace(
        letter,
        stage=_cap(letter.stage, FIELD_MAX_CHARS),
        reason=_cap(letter.reason, REASON_MAX_CHARS),
        source_topic=_cap(letter.source_topic, FIELD_MAX_CHARS),
        link_id=_cap_optional(letter.link_id),
        vendor=_cap_optional(letter.vendor),
        target=_cap_optional(letter.target),
        app_version=_cap(letter.app_version, FIELD_MAX_CHARS),
        original_key=None if letter.original_key is None else letter.original_key[:KEY_MAX_BYTES],
    )
    if encoded_size_bound(capped) <= limit:
        return capped
    reference = value_reference(
        letter.original_value,
        source_topic=capped.source_topic,
        source_partition=letter.source_partition,
        source_offset=letter.source_offset,
    )
    note = f" [original value of {len(letter.original_value)} bytes replaced by a reference]"
    return replace(
        capped,
        reason=_cap(capped.reason, REASON_MAX_CHARS - len(note)) + note,
        original_value=reference,
    )


def encoded_size_bound(letter: DeadLetter) -> int:
    """An upper bound of the letter's Avro encoding, wire header included."""
    texts = (
        letter.stage,
        letter.reason,
        letter.source_topic,
        letter.link_id or "",
        letter.vendor or "",
        letter.target or "",
        letter.app_version,
    )
    binary = len(letter.original_key or b"") + len(letter.original_value)
    return sum(len(t.encode()) for t in texts) + binary + FRAMING_ALLOWANCE


def _cap(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + _ELLIPSIS


def _cap_optional(text: str | None) -> str | None:
    return None if text is None else _cap(text, FIELD_MAX_CHARS)

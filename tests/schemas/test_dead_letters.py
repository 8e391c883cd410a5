"""No dead letter can exceed the DLQ's limit, whatever it carries."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from nightstream.schemas.dead_letters import REFERENCE_KIND, bounded_dead_letter, sha256_hex
from nightstream.schemas.records import DeadLetter
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import DEAD_LETTER_MAX_BYTES

SERDE = make_serde("dead_letter", subject="dlq-value")


def _letter(original: bytes, reason: str = "bad", key: bytes | None = b"link") -> DeadLetter:
    return DeadLetter(
        stage="decode",
        reason=reason,
        source_topic="p.raw.dexcomshare",
        source_partition=2,
        source_offset=41,
        original_key=key,
        original_value=original,
        failed_at_ms=1_790_000_000_000,
        app_version="test",
    )


def test_a_small_letter_is_kept_as_it_is() -> None:
    letter = _letter(b'{"Value": "high"}')
    assert bounded_dead_letter(letter) == letter


def test_a_large_original_becomes_a_reference_to_where_it_lives() -> None:
    original = b"x" * (3 * DEAD_LETTER_MAX_BYTES)
    bounded = bounded_dead_letter(_letter(original))
    assert len(SERDE.encode(bounded.to_avro())) <= DEAD_LETTER_MAX_BYTES
    reference = json.loads(bounded.original_value)
    assert reference == {
        "kind": REFERENCE_KIND,
        "sha256": sha256_hex(original),
        "size": len(original),
        "source_topic": "p.raw.dexcomshare",
        "source_partition": 2,
        "source_offset": 41,
    }
    note = f"[original value of {len(original)} bytes replaced by a reference]"
    assert bounded.reason.endswith(note)


@settings(max_examples=40, deadline=None)
@given(
    original_size=st.integers(0, 2 * DEAD_LETTER_MAX_BYTES),
    reason=st.text(max_size=20_000),
    key=st.one_of(st.none(), st.binary(max_size=5_000)),
)
def test_every_letter_fits(original_size: int, reason: str, key: bytes | None) -> None:
    bounded = bounded_dead_letter(_letter(b"\xff" * original_size, reason, key))
    assert len(SERDE.encode(bounded.to_avro())) <= DEAD_LETTER_MAX_BYTES

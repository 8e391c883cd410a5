"""A reprocess pass writes the content hashes exactly as faust's table does."""

from __future__ import annotations

from faust.serializers import codecs

from nightstream.schemas.hash_changelog import changelog_record


def test_changelog_records_are_faust_json() -> None:
    key, value = changelog_record("entries/6f9c4c5e-0d8e-5a0a-9f0e-2b7f1e3c4d5a", "ab12")
    assert key == codecs.dumps("json", "entries/6f9c4c5e-0d8e-5a0a-9f0e-2b7f1e3c4d5a")
    assert value == codecs.dumps("json", "ab12")
    assert codecs.loads("json", key) == "entries/6f9c4c5e-0d8e-5a0a-9f0e-2b7f1e3c4d5a"

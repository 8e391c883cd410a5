"""Each schema version reads data of the one before; committed versions never change."""

from __future__ import annotations

import io
import itertools
import subprocess
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from nightstream.schemas.catalog import SCHEMA_NAMES, SchemaVersion, schema_family
from tests.schemas.avro_samples import sample

REPO = Path(__file__).resolve().parents[2]


def _pairs() -> list[tuple[SchemaVersion, SchemaVersion]]:
    pairs = []
    for name in SCHEMA_NAMES:
        versions = schema_family(name).versions
        pairs += list(itertools.pairwise(versions))
    return pairs


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_version_reads_its_own_samples(name: str) -> None:
    for version in schema_family(name).versions:
        for prefer_null in (False, True):
            record = sample(version.source, prefer_null=prefer_null)
            out = io.BytesIO()
            schemaless_writer(out, version.parsed, record)
            out.seek(0)
            assert schemaless_reader(out, version.parsed) == record


def backward_problems(old: SchemaVersion, new: SchemaVersion) -> list[str]:
    """Why ``new`` cannot read data written with ``old`` (empty when it can)."""
    problems = []
    old_fields = {f["name"] for f in old.source["fields"]}
    for field in new.source["fields"]:
        if field["name"] not in old_fields and "default" not in field:
            problems.append(f"new field {field['name']} has no default")
    record = sample(old.source)
    out = io.BytesIO()
    schemaless_writer(out, old.parsed, record)
    out.seek(0)
    try:
        read = schemaless_reader(out, old.parsed, new.parsed)
    except Exception as exc:  # any resolution failure is the finding
        return [*problems, f"cannot resolve: {exc}"]
    assert isinstance(read, dict)
    for name in old_fields & {f["name"] for f in new.source["fields"]}:
        if read[name] != record[name]:
            problems.append(f"field {name} reads back as {read[name]!r}")
    return problems


def test_each_version_reads_data_of_the_version_before() -> None:
    for old, new in _pairs():
        assert backward_problems(old, new) == [], f"{new.name} v{new.version}"


def _variant(base: SchemaVersion, fields: list[dict[str, object]]) -> SchemaVersion:
    source = {**base.source, "fields": [*base.source["fields"], *fields]}
    return SchemaVersion(base.name, base.version + 1, source, parse_schema(source), "", b"")


def test_the_check_accepts_a_defaulted_field_and_refuses_a_required_one() -> None:
    base = schema_family("poll_cursor").current
    good = _variant(base, [{"name": "note", "type": ["null", "string"], "default": None}])
    bad = _variant(base, [{"name": "note", "type": "string"}])
    assert backward_problems(base, good) == []
    assert "new field note has no default" in backward_problems(base, bad)


def test_committed_versions_are_never_edited() -> None:
    """A version file, once committed, stays as first committed: changes go to a new version."""
    for name in SCHEMA_NAMES:
        for version in schema_family(name).versions:
            path = f"schemas/avro/{name}/v{version.version}.avsc"
            history = _git("log", "--format=%H", "--", path).split()
            if not history:
                continue  # not committed yet: nothing to hold it against
            first = _git("show", f"{history[-1]}:{path}")
            current = (REPO / path).read_text(encoding="utf-8")
            assert current == first, (
                f"{path} was edited after it was committed; add v{version.version + 1}"
            )

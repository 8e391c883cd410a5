"""Avro schemas shipped in this package: every committed version of each, parsed once.

Files live at ``schemas/avro/<schema>/v<N>.avsc``. Version files are append-only: a change is a
new ``v<N+1>.avsc`` that must read data written with ``v<N>`` (checked by the test suite).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

from nightstream.schemas.errors import SchemaError
from nightstream.schemas.fingerprint import fingerprint_bytes

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")

SCHEMA_NAMES = (
    "raw_payload",
    "entry",
    "treatment",
    "devicestatus",
    "dead_letter",
    "poll_cursor",
    "stream_binding",
    "link",
    "link_status",
    "link_handoff",
)


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    version: int
    source: dict[str, Any]
    parsed: Any
    canonical_form: str
    fingerprint: bytes

    @property
    def full_name(self) -> str:
        return f"{self.source.get('namespace', '')}.{self.source['name']}".lstrip(".")


@dataclass(frozen=True)
class SchemaFamily:
    name: str
    versions: tuple[SchemaVersion, ...]

    @property
    def current(self) -> SchemaVersion:
        return self.versions[-1]

    def by_fingerprint(self, fingerprint: bytes) -> SchemaVersion | None:
        for version in self.versions:
            if version.fingerprint == fingerprint:
                return version
        return None


def _load_version(name: str, version: int, text: str) -> SchemaVersion:
    try:
        source = json.loads(text)
        # The write hint marks the schema as parsed, so fastavro does not parse it on every call.
        parsed = parse_schema(source)
        canonical = to_parsing_canonical_form(parse_schema(source, _write_hint=False))
    except (ValueError, TypeError, KeyError) as exc:
        raise SchemaError(f"schema {name} v{version} is invalid: {exc}") from exc
    return SchemaVersion(
        name=name,
        version=version,
        source=source,
        parsed=parsed,
        canonical_form=canonical,
        fingerprint=fingerprint_bytes(canonical),
    )


@cache
def schema_family(name: str) -> SchemaFamily:
    folder = resources.files("nightstream.schemas") / "avro" / name
    if not folder.is_dir():
        raise SchemaError(f"no schema named {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    numbered: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        match = _VERSION_FILE.match(entry.name)
        if match:
            numbered.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    numbered.sort()
    if not numbered or [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
        raise SchemaError(f"schema {name}: versions must be v1..vN without gaps")
    return SchemaFamily(name, tuple(_load_version(name, n, text) for n, text in numbered))

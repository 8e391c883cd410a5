"""Nightscout documents as they travel on the ``ns.*`` topics.

A document is the exact JSON object Nightscout will store. On the wire it is an Avro record: the
fields Nightscout knows are typed columns (handy for analysts), anything else goes to ``extra``
as JSON text, so ``from_avro(to_avro(doc))`` gives back the same document.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from nightstream.schemas.catalog import schema_family

NsDocument = dict[str, Any]

# link_id: v1 records named the delivering link; v2 names the stream (see from_avro).
_ROUTING_FIELDS = ("identifier", "stream", "version", "link_id", "content_hash", "extra")
_AVRO_TYPE_CHECKS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "int": int,
    "long": int,
    "double": (int, float),
    "boolean": bool,
}
_INT32 = range(-(2**31), 2**31)


class Collection(StrEnum):
    ENTRIES = "entries"
    TREATMENTS = "treatments"
    DEVICESTATUS = "devicestatus"

    @property
    def schema_name(self) -> str:
        return {"entries": "entry", "treatments": "treatment", "devicestatus": "devicestatus"}[
            self.value
        ]


@dataclass(frozen=True)
class NsRecord:
    """A document plus routing metadata, as carried by an ``ns.*`` topic.

    ``stream`` names the vendor-side source (account, patient, pump) the document belongs to,
    never the link that happened to deliver it: several links may read one stream, and a
    compacted topic keeps one record per identifier whichever link brought it.
    """

    collection: Collection
    stream: str
    document: NsDocument
    version: int | None = None
    """When the vendor answer behind this version was fetched (epoch ms): a later version of
    a document has a larger one, whatever partition or rebuilt topic carries it. Not part of
    the content (the same content fetched twice is the same document)."""

    def at_version(self, version: int) -> NsRecord:
        return NsRecord(self.collection, self.stream, self.document, version)

    @cached_property
    def identifier(self) -> str:
        return str(self.document["identifier"])

    @cached_property
    def address(self) -> str:
        """``collection/identifier``: identifiers are unique only within a collection."""
        return f"{self.collection.value}/{self.identifier}"

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self.document)


_SCALARS = frozenset({str, int, bool, type(None)})
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normalize_number(value: Any) -> Any:
    # JSON has one number type: 1 and 1.0 are the same document, so they must hash the same.
    if type(value) is dict and all(type(v) in _SCALARS for v in value.values()):
        return value  # the usual flat document: nothing to normalise
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_number(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(_normalize_number(value))


def content_hash(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _column_types(collection: Collection) -> dict[str, str]:
    columns: dict[str, str] = {}
    for field in schema_family(collection.schema_name).current.source["fields"]:
        if field["name"] in _ROUTING_FIELDS:
            continue
        avro_type = field["type"]
        if isinstance(avro_type, list):
            avro_type = next(t for t in avro_type if t != "null")
        columns[field["name"]] = avro_type
    return columns


_COLUMNS = {c: _column_types(c) for c in Collection}
_JSON_COLUMNS = {"pump", "uploader", "openaps", "loop"}


_EXACT_FITS = {"string": str, "long": int, "double": float, "boolean": bool}
"""The common case, one type test: any value of exactly this type fits the column."""


def _fits(avro_type: str, value: Any) -> bool:
    if type(value) is _EXACT_FITS.get(avro_type):
        return True
    if isinstance(value, bool) and avro_type != "boolean":
        return False
    if not isinstance(value, _AVRO_TYPE_CHECKS[avro_type]):
        return False
    return not (avro_type == "int" and value not in _INT32)


def to_avro(record: NsRecord) -> dict[str, Any]:
    columns = _COLUMNS[record.collection]
    out: dict[str, Any] = {name: None for name in columns}
    extra: dict[str, str] = {}
    for name, value in record.document.items():
        if name == "identifier":
            continue
        avro_type = columns.get(name)
        if name in _JSON_COLUMNS and record.collection is Collection.DEVICESTATUS:
            if isinstance(value, dict):
                out[name] = canonical_json(value)
                continue
        elif avro_type is not None and _fits(avro_type, value):
            out[name] = value
            continue
        extra[name] = canonical_json(value)
    out["identifier"] = record.identifier
    out["stream"] = record.stream
    out["version"] = record.version
    out["content_hash"] = record.content_hash
    out["extra"] = extra
    return out


def from_avro(collection: Collection, value: Mapping[str, Any]) -> NsRecord:
    document: NsDocument = {"identifier": value["identifier"]}
    for name in _COLUMNS[collection]:
        column_value = value.get(name)
        if column_value is None:
            continue
        if name in _JSON_COLUMNS and collection is Collection.DEVICESTATUS:
            column_value = json.loads(column_value)
        document[name] = _normalize_number(column_value)
    for name, text in value.get("extra", {}).items():
        document[name] = json.loads(text)
    # v1 records carry no stream; their device names it (every transform sets device = stream).
    stream = value.get("stream") or document.get("device") or ""
    version = value.get("version")
    return NsRecord(
        collection, str(stream), document, version if isinstance(version, int) else None
    )

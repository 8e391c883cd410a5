"""Avro serde for topic values.

Without a schema registry values use Avro single-object encoding: ``C3 01``, the writer schema's
8-byte CRC-64-AVRO fingerprint, then the Avro body. With a registry they use the Confluent wire
format (``00``, a 4-byte schema id, the body) so standard Kafka tools can read the topics.
Either way the reader is the current schema version and older writers resolve against it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from nightstream.schemas.catalog import SchemaFamily, SchemaVersion, schema_family
from nightstream.schemas.errors import RecordDecodeError, RecordEncodeError
from nightstream.schemas.registry import SchemaRegistryClient

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


def _write_body(version: SchemaVersion, record: Mapping[str, Any], out: io.BytesIO) -> None:
    try:
        schemaless_writer(out, version.parsed, dict(record), strict=True)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RecordEncodeError(f"{version.full_name}: {exc}") from exc


def _read_body(writer: SchemaVersion, reader: SchemaVersion, body: io.BytesIO) -> dict[str, Any]:
    reader_schema = None if writer is reader else reader.parsed
    value = schemaless_reader(body, writer.parsed, reader_schema)
    if not isinstance(value, dict):
        raise ValueError("top-level value is not a record")
    return value


class Serde:
    """Avro bodies behind a header naming the writer schema; subclasses define the header."""

    family: SchemaFamily

    def _header(self) -> bytes:
        raise NotImplementedError

    def _writer_of(self, data: bytes) -> tuple[SchemaVersion, int]:
        """The writer schema and where the body starts; ValueError says why there is none."""
        raise NotImplementedError

    def encode(self, record: Mapping[str, Any]) -> bytes:
        out = io.BytesIO()
        out.write(self._header())
        _write_body(self.family.current, record, out)
        return out.getvalue()

    def decode(
        self,
        data: bytes,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> dict[str, Any]:
        def fail(reason: str) -> RecordDecodeError:
            return RecordDecodeError(reason, topic=topic, partition=partition, offset=offset)

        try:
            writer, body_start = self._writer_of(data)
        except ValueError as exc:
            raise fail(str(exc)) from None
        try:
            return _read_body(writer, self.family.current, io.BytesIO(data[body_start:]))
        except (ValueError, TypeError, EOFError, IndexError, UnicodeDecodeError) as exc:
            raise fail(f"corrupt {self.family.name} body: {exc}") from exc


class SingleObjectSerde(Serde):
    def __init__(self, family: SchemaFamily) -> None:
        self.family = family

    def _header(self) -> bytes:
        return SINGLE_OBJECT_MAGIC + self.family.current.fingerprint

    def _writer_of(self, data: bytes) -> tuple[SchemaVersion, int]:
        if data is None or len(data) < 10 or data[:2] != SINGLE_OBJECT_MAGIC:
            raise ValueError(f"not Avro single-object encoded {self.family.name}")
        writer = self.family.by_fingerprint(bytes(data[2:10]))
        if writer is None:
            raise ValueError(f"unknown {self.family.name} schema fingerprint {data[2:10].hex()}")
        return writer, 10


class ConfluentSerde(Serde):
    def __init__(self, family: SchemaFamily, subject: str, registry: SchemaRegistryClient) -> None:
        self.family = family
        self.subject = subject
        self._registry = registry
        self._own_id: int | None = None
        self._writers: dict[int, SchemaVersion] = {}

    def prepare(self) -> None:
        """Register the current schema now, so the first encode does no network call."""
        if self._own_id is None:
            current = self.family.current
            self._own_id = self._registry.register(self.subject, current.canonical_form)
            self._writers[self._own_id] = current

    def _header(self) -> bytes:
        self.prepare()
        assert self._own_id is not None
        return CONFLUENT_MAGIC + struct.pack(">I", self._own_id)

    def _writer_of(self, data: bytes) -> tuple[SchemaVersion, int]:
        if data is None or len(data) < 5 or data[:1] != CONFLUENT_MAGIC:
            raise ValueError(f"not Confluent-framed {self.family.name}")
        (schema_id,) = struct.unpack(">I", data[1:5])
        writer = self._writer_for(schema_id)
        if writer is None:
            raise ValueError(f"schema id {schema_id} is not a known {self.family.name} version")
        return writer, 5

    def _writer_for(self, schema_id: int) -> SchemaVersion | None:
        known = self._writers.get(schema_id)
        if known is not None:
            return known
        canonical = self._registry.canonical_form_by_id(schema_id)
        for version in self.family.versions:
            if version.canonical_form == canonical:
                self._writers[schema_id] = version
                return version
        return None


def make_serde(
    schema_name: str, *, subject: str, registry: SchemaRegistryClient | None = None
) -> Serde:
    family = schema_family(schema_name)
    if registry is None:
        return SingleObjectSerde(family)
    return ConfluentSerde(family, subject, registry)

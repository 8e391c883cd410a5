"""Typed records for the envelope topics: raw payloads, dead letters, poll cursors, links."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Self


class AvroRecord:
    """A dataclass whose fields are exactly its Avro schema's fields."""

    def to_avro(self) -> dict[str, Any]:
        fields: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return fields

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(**value)


@dataclass(frozen=True)
class RawPayload(AvroRecord):
    link_id: str
    vendor: str
    endpoint: str
    fetched_at_ms: int
    http_status: int
    body: bytes
    poller_version: str
    request_params: dict[str, str] = field(default_factory=dict)
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    content_type: str = "application/json"
    source_tz: str | None = None


@dataclass(frozen=True)
class DeadLetter(AvroRecord):
    stage: str
    reason: str
    source_topic: str
    original_value: bytes
    failed_at_ms: int
    app_version: str
    source_partition: int | None = None
    source_offset: int | None = None
    link_id: str | None = None
    vendor: str | None = None
    target: str | None = None
    original_key: bytes | None = None


@dataclass(frozen=True)
class PollCursor(AvroRecord):
    link_id: str
    vendor: str
    updated_at_ms: int
    newest_data_ms: int | None = None
    last_success_ms: int | None = None
    state: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamBinding(AvroRecord):
    """A link reads this stream: learned from its payloads, kept on the compacted bindings topic."""

    link_id: str
    vendor: str
    stream: str
    bound_at_ms: int


@dataclass(frozen=True)
class LinkRecord(AvroRecord):
    """A link on the links topic; ``credentials`` is an encrypted token, never clear text."""

    id: str
    vendor: str
    credentials: bytes
    targets: list[str]
    updated_at_ms: int
    poll_interval_seconds: float = 300.0
    paused: bool = False
    region: str | None = None
    server_url: str | None = None
    patient_id: str | None = None
    llu_version: str | None = None
    timezone: str | None = None

    def same_settings(self, other: LinkRecord) -> bool:
        """Equal apart from when it was written: re-publishing a link unchanged is no change."""
        return replace(self, updated_at_ms=0) == replace(other, updated_at_ms=0)


class LinkState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    RELEASED = "released"


@dataclass(frozen=True)
class LinkStatusRecord(AvroRecord):
    link_id: str
    state: str
    owner: str
    updated_at_ms: int
    message: str | None = None


@dataclass(frozen=True)
class LinkHandoffRecord(AvroRecord):
    token: str
    partition: int
    member: str
    released_at_ms: int

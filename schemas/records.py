"""Typed records for the envelope topics: raw payloads, dead letters, poll cursors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RawPayload:
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

    def to_avro(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> RawPayload:
        return cls(**value)


@dataclass(frozen=True)
class DeadLetter:
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

    def to_avro(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> DeadLetter:
        return cls(**value)


@dataclass(frozen=True)
class PollCursor:
    link_id: str
    vendor: str
    updated_at_ms: int
    newest_data_ms: int | None = None
    last_success_ms: int | None = None
    state: dict[str, str] = field(default_factory=dict)

    def to_avro(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> PollCursor:
        return cls(**value)

"""Building blocks for Tandem transform tests: events shaped as the BFF sends them, payloads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from nightstream.schemas.identity import device_name
from nightstream.schemas.records import RawPayload

ZONE = "America/New_York"
STREAM = "0a1b2c3d4e5f"
DEVICE = device_name("tandem", STREAM)
ASSIGNMENT = "6f1c2b7a-0d7e-4c55-9a53-2f4f8f0c9b11"
# 2026-03-10 (EDT, UTC-4) a little after the events below.
FETCHED_AT_MS = 1_773_150_000_000
WALL = "2026-03-10T08:15:30"
WALL_MS = 1_773_144_930_000
TANDEM_EPOCH = datetime(2008, 1, 1)  # noqa: DTZ001 (pump wall clock)


def tandem_seconds(wall: str) -> int:
    return int((datetime.fromisoformat(wall) - TANDEM_EPOCH).total_seconds())


def later(wall: str, **delta: float) -> str:
    return (datetime.fromisoformat(wall) + timedelta(**delta)).isoformat()


def event(code: int, number: int, properties: dict[str, Any], wall: str = WALL) -> dict[str, Any]:
    return {
        "deviceAssignmentId": ASSIGNMENT,
        "eventCode": code,
        "sequenceGroup": 1,
        "sequenceNumber": number,
        "pumpDateTime": wall,
        "estimatedDateTime": f"{wall}Z",
        "eventProperties": properties,
    }


def payload(
    events: list[dict[str, Any]],
    *,
    zone: str | None = ZONE,
    fetched_at_ms: int = FETCHED_AT_MS,
    link_id: str = "pump-1",
) -> RawPayload:
    body = json.dumps({"events": events, "clockChanges": []}, separators=(",", ":"))
    return RawPayload(
        link_id=link_id,
        vendor="tandem",
        endpoint="pump-logs",
        fetched_at_ms=fetched_at_ms,
        http_status=200,
        body=body.encode(),
        poller_version="test",
        request_params={"stream": STREAM, "start": "2026-03-09", "end": "2026-03-10"},
        source_tz=zone,
    )

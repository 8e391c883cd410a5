"""What the simulated Share answers: JSON, an empty body, or a Dexcom fault (always HTTP 500)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from sources.dexcomshare.faults import FAULT_TYPE_NAME
from sources.dexcomshare.simulator.formats import compact_json

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(value: object) -> Reply:
    return Reply(200, compact_json(value))


def empty_reply() -> Reply:
    return Reply(200, b"")


def fault_reply(code: str, message: str, now_ms: int) -> Reply:
    thrown = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds")
    sub_code = (
        f'<OnlineException DateThrown="{thrown}" ErrorCode="{escape(code)}" Type="1" '
        f'Category="2" Severity="1" TypeString="Error" CategoryString="Authentication" '
        f'SeverityString="Minor" Message="{escape(message)}" />'
    )
    body = {"Code": code, "Message": message, "SubCode": sub_code, "TypeName": FAULT_TYPE_NAME}
    return Reply(500, compact_json(body))

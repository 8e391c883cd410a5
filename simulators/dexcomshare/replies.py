"""Share's own answers: an empty body, or a Dexcom fault (always HTTP 500)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from nightstream.simulators.kit.replies import Reply, json_reply
from nightstream.sources.dexcomshare.faults import FAULT_TYPE_NAME


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
    return json_reply(body, 500)

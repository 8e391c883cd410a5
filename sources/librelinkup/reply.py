"""One LibreLinkUp answer as received, and the parts of its JSON envelope the client reads.

Every answer is ``{status, data, error?, ticket?}``; the body ``status`` is the real result, the
HTTP status is usually 200 except for throttling, version and Cloudflare cases.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_PRINTABLE_LIMIT = 64


@dataclass(frozen=True)
class LluReply:
    http_status: int
    content_type: str
    body: bytes
    retry_after: float | None

    @cached_property
    def envelope(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None (HTML from Cloudflare, truncated, empty...)."""
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def status(self) -> int | None:
        status = (self.envelope or {}).get("status")
        return status if isinstance(status, int) and not isinstance(status, bool) else None

    def data(self) -> Any:
        return (self.envelope or {}).get("data")

    def message(self) -> str | None:
        """The vendor's short error word (``error.message`` or ``message``), made printable.

        Only ever a code such as ``notAuthenticated``: anything longer is cut, so a message
        that echoes account data cannot reach a log line.
        """
        envelope = self.envelope or {}
        error = envelope.get("error")
        text = error.get("message") if isinstance(error, dict) else envelope.get("message")
        if not isinstance(text, str):
            return None
        kept = "".join(c for c in text if c.isalnum() or c in "_-.")
        return kept[:_PRINTABLE_LIMIT] or None


def field(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None where a level is missing or not an object."""
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def positive_number(value: Any) -> float | None:
    """A finite JSON number above zero, or None (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None

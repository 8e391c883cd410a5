"""Keep Share session ids out of httpx's request log lines.

httpx logs every request URL at INFO, and the read URL carries ``sessionId`` in its query.
"""

from __future__ import annotations

import logging
import re

_SESSION_IN_QUERY = re.compile(r"(session[Ii][Dd]=)[^&\s\"']+")


class SessionIdRedactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SESSION_IN_QUERY.sub(r"\1<redacted>", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_REDACTOR = SessionIdRedactor()


def redact_session_ids_in_httpx_logs() -> None:
    """Idempotent: attach the redactor to the ``httpx`` logger once."""
    logger = logging.getLogger("httpx")
    if _REDACTOR not in logger.filters:
        logger.addFilter(_REDACTOR)

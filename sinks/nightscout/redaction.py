"""Keeping a target's secrets out of logs and error messages."""

from __future__ import annotations

import hashlib
import logging
import re
from urllib.parse import quote

_TOKEN_IN_PATH = re.compile(r"(/api/v2/authorization/request/)[^\s'\"?#&,)]+")
_HTTP_LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class Redactor:
    """Replaces every form of a target's secrets in a text by ``***``."""

    def __init__(self, access_token: str | None, api_secret: str | None) -> None:
        secrets = [access_token, api_secret]
        if access_token:
            secrets.append(quote(access_token, safe=""))
        if api_secret:
            secrets.append(sha1_hex(api_secret))
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.jwt: str | None = None
        """The current JWT: it carries the access token in readable base64, so it is a secret."""

    def __call__(self, text: str) -> str:
        secrets = [*self._secrets, self.jwt] if self.jwt else self._secrets
        for secret in secrets:
            text = text.replace(secret, "***")
        return text


class _TokenPathFilter(logging.Filter):
    """Hides the access token in the JWT request path from httpx's and httpcore's own logs.

    httpx logs every request URL at INFO, and httpcore logs response headers at DEBUG, which
    include the Location of a redirected JWT request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_PATH.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_TOKEN_PATH_FILTER = _TokenPathFilter()


def hide_tokens_from_http_library_logs() -> None:
    for name in _HTTP_LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        if _TOKEN_PATH_FILTER not in library_logger.filters:
            library_logger.addFilter(_TOKEN_PATH_FILTER)

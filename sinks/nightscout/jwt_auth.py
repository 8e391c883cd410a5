"""API v3 authorization: the access token is exchanged for a JWT, refreshed before it expires.

Never in a loop: each rejected token costs the client's IP address a growing delay on the
server, and a token that is refused once is refused for good (``TargetFatalError``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from nightstream.sinks.nightscout.answers import HOW_TO_GET_ACCESS
from nightstream.sinks.nightscout.target_http import TargetHttp

logger = logging.getLogger("nightstream.sinks.nightscout.client")

_JWT_FALLBACK_LIFETIME = 600.0
_JWT_MAX_MARGIN = 600.0


@dataclass(frozen=True)
class Jwt:
    token: str = field(repr=False)
    subject: str | None
    permission_groups: tuple[tuple[str, ...], ...] | None
    lifetime: float
    refresh_at: float


class JwtAuth:
    def __init__(self, http: TargetHttp) -> None:
        self._http = http
        self._jwt: Jwt | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> Jwt:
        """A JWT that is not about to expire; call it from within an attempt (it may send)."""
        async with self._lock:
            jwt = self._jwt
            if jwt is None or time.monotonic() >= jwt.refresh_at:
                jwt = self._jwt = await self._request()
                self._http.redactor.jwt = jwt.token
            return jwt

    def distrust(self, token: str) -> None:
        """Make the next caller fetch a new JWT (once, whoever comes first)."""
        if self._jwt is not None and self._jwt.token == token:
            self._jwt = None

    async def _request(self) -> Jwt:
        token = self._http.config.access_token
        assert token is not None
        answers = self._http.answers
        path = f"/api/v2/authorization/request/{quote(token, safe='')}"
        # No slot of its own: the caller already holds one.
        response = await self._http.exchange("GET", path, None, {})
        status = response.status_code
        if status == 401:
            raise answers.fatal(
                f"Nightscout does not accept the access token ({answers.status_text(response)}): "
                f"it is invalid or revoked. {HOW_TO_GET_ACCESS}"
            )
        if status in (404, 405):
            raise answers.endpoint_missing(response, "/api/v2/authorization/request")
        if status != 200:
            raise answers.fatal(
                f"exchanging the access token for a JWT failed with {answers.status_text(response)}"
            )
        try:
            payload = response.json()
            jwt = str(payload["token"])
        except (ValueError, KeyError, TypeError):
            raise answers.fatal(
                "the JWT request answered 200 without a token; is base_url a Nightscout site?"
            ) from None
        received = time.monotonic()
        lifetime = _lifetime(payload.get("iat"), payload.get("exp"))
        margin = min(lifetime / 5, _JWT_MAX_MARGIN)
        subject = payload.get("sub")
        logger.debug(
            "target %s: got a JWT for subject %r valid for %.0f s",
            self._http.config.name,
            subject,
            lifetime,
        )
        return Jwt(
            token=jwt,
            subject=subject if isinstance(subject, str) else None,
            permission_groups=_permission_groups(payload.get("permissionGroups")),
            lifetime=lifetime,
            refresh_at=received + lifetime - margin,
        )


def _lifetime(iat: Any, exp: Any) -> float:
    numbers = (int, float)
    if isinstance(iat, numbers) and isinstance(exp, numbers) and exp > iat:
        return float(exp - iat)
    return _JWT_FALLBACK_LIFETIME


def _permission_groups(groups: Any) -> tuple[tuple[str, ...], ...] | None:
    if not isinstance(groups, list):
        return None
    return tuple(
        tuple(p for p in group if isinstance(p, str)) for group in groups if isinstance(group, list)
    )

"""The bearer ticket of one login, reused until it is about to expire."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from nightstream.sources.librelinkup.reply import positive_number
from nightstream.sources.secret import Secret

# Renew a little early: a request sent just before expiry may arrive just after it.
RENEW_MARGIN_MS = 5 * 60_000
# When an answer gives neither `expires` nor `duration`, assume what the hourly peers assume.
FALLBACK_LIFETIME_MS = 50 * 60_000


@dataclass(frozen=True, slots=True)
class Session:
    """One login: where it happened, and what every authenticated call sends there."""

    region: str
    token: Secret
    account_id: Secret
    """The ``Account-Id`` header: SHA-256 hex of the login's user id."""
    expires_ms: int

    def expired(self, now_ms: int) -> bool:
        return now_ms >= self.expires_ms - RENEW_MARGIN_MS

    def renewed(self, ticket: Any, now_ms: int) -> Session:
        """This session with the ``ticket`` every authenticated answer carries, if usable."""
        read = read_ticket(ticket, now_ms)
        if read is None:
            return self
        token, expires_ms = read
        return replace(self, token=token, expires_ms=expires_ms)


def read_ticket(ticket: Any, now_ms: int) -> tuple[Secret, int] | None:
    """The token and its expiry (epoch ms) of an ``authTicket``/``ticket`` object."""
    if not isinstance(ticket, dict):
        return None
    token = ticket.get("token")
    if not isinstance(token, str) or not token:
        return None
    expires_s = positive_number(ticket.get("expires"))
    duration_ms = positive_number(ticket.get("duration"))
    if expires_s is not None:
        expires_ms = int(expires_s * 1000)
    elif duration_ms is not None:
        expires_ms = now_ms + int(duration_ms)
    else:
        expires_ms = now_ms + FALLBACK_LIFETIME_MS
    return Secret(token), expires_ms

"""Bearer tickets: issued at login for one account and region, valid until they expire."""

from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ticket:
    token: str
    account_key: str
    region: str
    expires_ms: int
    full: bool
    """False for the short ticket of a login stopped at a step: it opens no data."""


class TicketStore:
    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}

    def issue(self, account_key: str, region: str, expires_ms: int, *, full: bool = True) -> Ticket:
        ticket = Ticket(secrets.token_urlsafe(32), account_key, region, expires_ms, full)
        self._tickets[ticket.token] = ticket
        return ticket

    def valid(self, token: str, region: str, now_ms: int) -> Ticket | None:
        ticket = self._tickets.get(token)
        if ticket is None or not ticket.full or ticket.region != region:
            return None
        return ticket if now_ms < ticket.expires_ms else None

    def expire_all(self) -> None:
        self._tickets.clear()

    def __len__(self) -> int:
        return len(self._tickets)

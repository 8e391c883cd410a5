"""Share sessions: issued at login, valid for a while, then SessionNotValid."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum


class SessionState(Enum):
    ACTIVE = "active"
    UNKNOWN = "unknown"
    ENDED = "ended"


@dataclass(slots=True)
class _Session:
    account_key: str
    region: str
    issued_ms: int
    ended: bool = False


class SessionStore:
    def __init__(self, ttl_ms: int) -> None:
        self._ttl_ms = ttl_ms
        self._sessions: dict[str, _Session] = {}

    def issue(self, account_key: str, region: str, now_ms: int) -> str:
        session_id = str(uuid.uuid4())
        self._sessions[session_id] = _Session(account_key, region, now_ms)
        return session_id

    def state(self, session_id: str, region: str, now_ms: int) -> tuple[SessionState, str | None]:
        """The session's state and, when active, the key of its account."""
        session = self._sessions.get(session_id.lower())
        if session is None or session.region != region:
            return SessionState.UNKNOWN, None
        if session.ended or now_ms - session.issued_ms >= self._ttl_ms:
            return SessionState.ENDED, None
        return SessionState.ACTIVE, session.account_key

    def end_all(self) -> None:
        for session in self._sessions.values():
            session.ended = True

    def forget_all(self) -> None:
        self._sessions.clear()

    def active_ids(self) -> list[str]:
        return [sid for sid, session in self._sessions.items() if not session.ended]

    def __len__(self) -> int:
        return len(self._sessions)

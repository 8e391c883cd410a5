"""What the simulator saw, per account: login steps, sessions, reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class AccountCounters:
    authenticate_calls: int = 0
    login_by_id_calls: int = 0
    failed_logins: int = 0
    sessions_issued: int = 0
    reads: int = 0

    @property
    def login_attempts(self) -> int:
        """Calls to either login step, successful or not."""
        return self.authenticate_calls + self.login_by_id_calls

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "login_attempts": self.login_attempts}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read as received: the parameters exactly as the client sent them."""

    account_key: str | None
    session_param: str | None
    minutes: str | None
    max_count: str | None
    at_ms: int


@dataclass(frozen=True, slots=True)
class ServedAnswer:
    """One read answered with readings: its window, and the body's size and SHA-256."""

    account_key: str
    at_ms: int
    minutes: int
    max_count: int
    size: int
    sha256: str
    inflated: bool
    """Made larger than the readings on purpose (``inflate_next_reads``)."""

"""Dexcom locks an account after repeated failed logins; this counts them and keeps the lock."""

from __future__ import annotations

from dataclasses import dataclass

from sources.dexcomshare.simulator.glucose import MINUTE_MS


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_ms: int = 10 * MINUTE_MS


class LoginGuard:
    """Consecutive failed logins per account key; a success resets the count."""

    def __init__(self, policy: LockoutPolicy) -> None:
        self._policy = policy
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, int] = {}

    def is_locked(self, key: str, now_ms: int) -> bool:
        until = self._locked_until.get(key)
        if until is None:
            return False
        if now_ms >= until:
            del self._locked_until[key]
            self._failures.pop(key, None)
            return False
        return True

    def record_failure(self, key: str, now_ms: int) -> None:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        if failures >= self._policy.max_failures:
            self._locked_until[key] = now_ms + self._policy.lock_ms

    def record_success(self, key: str) -> None:
        self._failures.pop(key, None)

    def lock(self, key: str, now_ms: int) -> None:
        self._locked_until[key] = now_ms + self._policy.lock_ms

    def clear(self) -> None:
        self._failures.clear()
        self._locked_until.clear()

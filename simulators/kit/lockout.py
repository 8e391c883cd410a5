"""Login lockouts: enough failed logins lock an account for a while.

Vendors count differently: Dexcom counts consecutive failures (a success starts over), Abbott
counts failures within a sliding interval. One policy says both: ``interval_ms`` None means the
failures never age.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    failures: int
    lockout_ms: int
    interval_ms: int | None = None


class LoginLockout:
    """Failure times per account key, and the locks they caused."""

    def __init__(self, policy: LockoutPolicy) -> None:
        self.policy = policy
        self._recent: dict[str, deque[int]] = {}
        self._until: dict[str, int] = {}

    def locked(self, key: str, now_ms: int) -> bool:
        return now_ms < self._until.get(key, 0)

    def failed(self, key: str, now_ms: int) -> None:
        recent = self._recent.setdefault(key, deque())
        recent.append(now_ms)
        interval = self.policy.interval_ms
        while interval is not None and recent and recent[0] <= now_ms - interval:
            recent.popleft()
        if len(recent) >= self.policy.failures:
            self.lock(key, now_ms)

    def succeeded(self, key: str) -> None:
        self._recent.pop(key, None)

    def lock(self, key: str, now_ms: int) -> None:
        self._until[key] = now_ms + self.policy.lockout_ms
        self._recent.pop(key, None)

    def clear(self) -> None:
        self._recent.clear()
        self._until.clear()

"""LibreLinkUp's login lockout: too many failures within an interval lock the account a while.

The one lockout answer seen in the wild announces 3 failures within 60 s -> 300 s locked, and
reports exactly those numbers back, which is what this simulator does too.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sources.dexcomshare.simulator.glucose import MINUTE_MS


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    failures: int = 3
    interval_ms: int = MINUTE_MS
    lockout_ms: int = 5 * MINUTE_MS


class LoginThrottle:
    """Failure times per account within the policy's interval, and the locks they caused."""

    def __init__(self, policy: LockoutPolicy) -> None:
        self.policy = policy
        self._recent: dict[str, deque[int]] = {}
        self._until: dict[str, int] = {}

    def locked(self, key: str, now_ms: int) -> bool:
        return now_ms < self._until.get(key, 0)

    def failed(self, key: str, now_ms: int) -> None:
        recent = self._recent.setdefault(key, deque())
        recent.append(now_ms)
        while recent and recent[0] <= now_ms - self.policy.interval_ms:
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

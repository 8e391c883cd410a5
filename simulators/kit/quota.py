"""Request quotas: too many calls from one account within an interval answer HTTP 429.

LibreLinkUp answers bursts of requests with 429, apparently per account; peers back off for
the ``Retry-After`` it sends. The numbers are not published, so the policy is a knob.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    requests: int
    interval_ms: int


class RequestQuota:
    """Recent request times per account key (at most ``policy.requests`` kept for each)."""

    def __init__(self, policy: QuotaPolicy) -> None:
        self.policy = policy
        self._recent: dict[str, deque[int]] = {}

    def admit(self, key: str, now_ms: int) -> int | None:
        """None when the request may pass (and is counted); else ms until one would."""
        recent = self._recent.get(key)
        if recent is None:
            recent = self._recent[key] = deque()
        interval = self.policy.interval_ms
        while recent and recent[0] <= now_ms - interval:
            recent.popleft()
        if len(recent) >= self.policy.requests:
            return recent[0] + interval - now_ms
        recent.append(now_ms)
        return None

    def clear(self) -> None:
        self._recent.clear()

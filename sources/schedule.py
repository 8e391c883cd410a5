"""When links poll: deterministic phases, and one heap of due times for a whole poller.

A link's phase is a hash of its id modulo its interval, so a poller that starts (or starts
again after an outage) spreads its links' first polls over one interval instead of polling all
of them at once, and the same link keeps the same place in the interval on every instance.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools


def phase_ms(link_id: str, interval_ms: int) -> int:
    """Where in every ``interval_ms`` the link polls: stable across processes and restarts."""
    digest = hashlib.blake2b(link_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(interval_ms, 1)


def next_slot_ms(now_ms: int, phase: int, interval_ms: int) -> int:
    """The first time at or after ``now_ms`` that is ``phase`` into an interval."""
    return now_ms + (phase - now_ms) % max(interval_ms, 1)


class DueTimes:
    """Each scheduled link's next due time, earliest first.

    Rescheduling or removing a link leaves its old heap entry behind; such an entry is skipped
    when it comes up (its token is no longer the link's), which keeps every operation
    O(log n) without searching the heap.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str]] = []
        self._tokens: dict[str, int] = {}
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, link_id: str) -> bool:
        return link_id in self._tokens

    def schedule(self, link_id: str, due_ms: int) -> None:
        token = next(self._counter)
        self._tokens[link_id] = token
        heapq.heappush(self._heap, (due_ms, token, link_id))

    def discard(self, link_id: str) -> None:
        self._tokens.pop(link_id, None)

    def next_due_ms(self) -> int | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> tuple[str, int] | None:
        """The earliest link due at ``now_ms`` (with its due time), unscheduled; else None."""
        self._drop_stale()
        if not self._heap or self._heap[0][0] > now_ms:
            return None
        due_ms, _token, link_id = heapq.heappop(self._heap)
        del self._tokens[link_id]
        return link_id, due_ms

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and self._tokens.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)

"""Offsets handed out in order and settled in any order: how far everything is settled."""

from __future__ import annotations

from collections import deque


class OffsetProgress:
    """One partition's deliveries as seen by whoever must not move past an unsettled one.

    ``point()`` is the first offset not settled yet (or, when all are, the next to hand out):
    what a consumer group may commit, or where a catch-up resumes after a restart.
    """

    def __init__(self, next_offset: int) -> None:
        self.next_offset = next_offset
        self._order: deque[int] = deque()
        self._open: dict[int, int] = {}
        self.unsettled = 0
        """Deliveries handed out and not settled yet."""

    def hand_out(self, offset: int, copies: int) -> None:
        """Record ``offset`` as delivered ``copies`` times (0: nothing to wait for)."""
        if copies > 0:
            self.unsettled += copies
            if offset in self._open:
                self._open[offset] += copies
            else:
                self._order.append(offset)
                self._open[offset] = copies
        self.next_offset = max(self.next_offset, offset + 1)

    def settle(self, offset: int) -> None:
        left = self._open.get(offset)
        if left is None:
            return
        self.unsettled -= 1
        if left <= 1:
            del self._open[offset]
        else:
            self._open[offset] = left - 1

    def reset(self, offset: int) -> None:
        """Start again at ``offset``: what was handed out is forgotten (settling it later does
        nothing)."""
        self._order.clear()
        self._open.clear()
        self.unsettled = 0
        self.next_offset = offset

    def point(self) -> int:
        while self._order and self._order[0] not in self._open:
            self._order.popleft()
        return self._order[0] if self._order else self.next_offset

"""Over how long a poller spreads its links' first polls: within each vendor's host budget.

A first poll asks more of the vendor than a later one (Dexcom: two login steps and a read), and
while first polls go on, the links already polled keep their own pace (about one request per
interval each). Spread over a fixed time (one interval), the first polls of thousands of links
would ask for more than the budget allows: their requests would queue behind it, and so would
every poll due meanwhile. So the first polls of a batch of links get only the rate the steady
polls of all the links leave free, and are spread over as long as that takes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

FIRST_POLL_REQUESTS = 3
"""Requests of a first poll when a source does not say (``first_poll_requests``)."""
BUDGET_SHARE = 0.9
"""Of a host budget, what steady and first polls are planned to use; the rest absorbs retries
and chance bunching of due times."""
MIN_FIRST_POLL_SHARE = 0.1
"""First polls get at least this share of the budget, so that links still start (slowly) when
the steady polls alone would need all of it."""


@dataclass(frozen=True, slots=True)
class NewLink:
    vendor: str
    first_poll_requests: int


class VendorLoads:
    """Per vendor, the steady request rate of the links served (one request per interval)."""

    def __init__(self) -> None:
        self._steady_rps: dict[str, float] = {}

    def add(self, vendor: str, interval_s: float) -> None:
        self._steady_rps[vendor] = self._steady_rps.get(vendor, 0.0) + 1 / interval_s

    def remove(self, vendor: str, interval_s: float) -> None:
        self._steady_rps[vendor] = self._steady_rps.get(vendor, 0.0) - 1 / interval_s

    def steady_rps(self, vendor: str) -> float:
        return max(self._steady_rps.get(vendor, 0.0), 0.0)


def first_poll_windows_s(
    batch: Iterable[NewLink],
    loads: VendorLoads,
    budget_rps: Callable[[str], float],
) -> Mapping[str, float]:
    """Per vendor, the seconds over which ``batch``'s first polls fit in what its host budget
    (``budget_rps``) leaves beside the steady polls of every link (``loads``, the batch's
    included)."""
    requests: Counter[str] = Counter()
    for link in batch:
        requests[link.vendor] += link.first_poll_requests
    windows = {}
    for vendor, needed in requests.items():
        budget = budget_rps(vendor)
        free = max(budget * BUDGET_SHARE - loads.steady_rps(vendor), budget * MIN_FIRST_POLL_SHARE)
        windows[vendor] = needed / free
    return windows


def first_poll_requests(source: object) -> int:
    requests = getattr(source, "first_poll_requests", FIRST_POLL_REQUESTS)
    return requests if isinstance(requests, int) and requests > 0 else FIRST_POLL_REQUESTS

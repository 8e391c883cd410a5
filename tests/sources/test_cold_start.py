"""First polls are spread so that they fit in the host budget beside the steady polls."""

from __future__ import annotations

import asyncio

import pytest

from nightstream.schemas.records import PollCursor
from nightstream.schemas.topics import TopicNames
from nightstream.sources.cold_start import (
    FIRST_POLL_REQUESTS,
    NewLink,
    VendorLoads,
    first_poll_requests,
    first_poll_windows_s,
)
from nightstream.sources.http_pools import HostBudget, SharedPools
from nightstream.sources.poll_source import FetchResult
from nightstream.sources.runner import Poller, PollerOptions
from tests.timing import scaled


def _loads(vendor: str, links: int, interval_s: float) -> VendorLoads:
    loads = VendorLoads()
    for _ in range(links):
        loads.add(vendor, interval_s)
    return loads


def test_10000_dexcom_links_start_within_what_the_steady_polls_leave_free() -> None:
    loads = _loads("dexcomshare", 10_000, 300.0)
    batch = [NewLink("dexcomshare", 3)] * 10_000
    windows = first_poll_windows_s(batch, loads, lambda _vendor: 100.0)
    # 30,000 requests at 90 - 33.3 requests/s.
    assert windows["dexcomshare"] == pytest.approx(30_000 / (90 - 10_000 / 300))


def test_one_new_link_beside_many_starts_at_once_and_vendors_are_apart() -> None:
    loads = _loads("dexcomshare", 1_000, 300.0)
    loads.add("librelinkup", 60.0)
    windows = first_poll_windows_s(
        [NewLink("dexcomshare", 3), NewLink("librelinkup", 1)], loads, lambda _vendor: 50.0
    )
    assert windows["dexcomshare"] == pytest.approx(3 / (45 - 1_000 / 300))
    assert windows["librelinkup"] == pytest.approx(1 / (45 - 1 / 60))


def test_a_budget_the_steady_polls_fill_still_starts_links_slowly() -> None:
    loads = _loads("tandem", 3_000, 60.0)  # 50 requests/s steady, the whole budget
    windows = first_poll_windows_s([NewLink("tandem", 3)] * 10, loads, lambda _vendor: 50.0)
    assert windows["tandem"] == pytest.approx(30 / 5.0)
    loads.remove("tandem", 60.0)
    assert loads.steady_rps("tandem") == pytest.approx(2_999 / 60)


class _Source:
    vendor = "fake"
    poll_interval_seconds = 10.0
    first_poll_requests = 3

    def __init__(self, link_id: str) -> None:
        self.link_id = link_id

    async def fetch(self, cursor: PollCursor | None, now_ms: int) -> FetchResult:
        return FetchResult([], None)

    def seconds_until_next_poll(self, cursor: PollCursor | None, now_ms: int) -> float:
        return self.poll_interval_seconds

    async def aclose(self) -> None:
        return None


def test_first_poll_requests_come_from_the_source_or_the_default() -> None:
    assert first_poll_requests(_Source("a")) == 3
    assert first_poll_requests(object()) == FIRST_POLL_REQUESTS


class _FirstDue:
    def __init__(self, links: int) -> None:
        self.due: dict[str, int] = {}
        self.all_polled = asyncio.Event()
        self._links = links

    def poll_started(self, link_id: str, due_ms: int, now_ms: int) -> None:
        self.due.setdefault(link_id, due_ms)
        if len(self.due) == self._links:
            self.all_polled.set()


async def test_the_poller_spreads_first_polls_beyond_an_interval_when_the_budget_needs_it() -> None:
    # 200 links polling every 10 s ask 20 requests/s; a budget of 40 leaves 16 for 600 first-poll
    # requests: 37.5 s, not the 10 s interval. The clock runs 200 times faster than real time.
    speed = 200.0
    pools = SharedPools(vendor_budgets={"fake": HostBudget(40 * speed)})
    observer = _FirstDue(200)
    poller = Poller(
        bootstrap_servers="127.0.0.1:9",
        names=TopicNames("unused"),
        raw_serdes={},
        cursors=None,  # type: ignore[arg-type]  # a dry run reads no cursor
        sources=[_Source(f"l{n:03d}") for n in range(200)],
        options=PollerOptions(dry_run=True, clock_speed=speed),
        pools=pools,
        observer=observer,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    try:
        await asyncio.wait_for(observer.all_polled.wait(), timeout=scaled(10))
    finally:
        stop.set()
        await running
    spread_s = (max(observer.due.values()) - min(observer.due.values())) / 1000
    assert 30 < spread_s <= 37.5

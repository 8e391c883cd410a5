"""Phases spread links over their interval; the heap gives due links in order, once each."""

from __future__ import annotations

from collections import Counter

from nightstream.sources.schedule import DueTimes, next_slot_ms, phase_ms

INTERVAL_MS = 300_000


def test_phases_are_stable_and_spread_over_the_interval() -> None:
    links = [f"clinic-{n}" for n in range(10_000)]
    phases = [phase_ms(link, INTERVAL_MS) for link in links]
    assert phases == [phase_ms(link, INTERVAL_MS) for link in links]
    assert all(0 <= phase < INTERVAL_MS for phase in phases)
    # 30 ten-second buckets: none holds more than twice its share (no burst).
    buckets = Counter(phase // 10_000 for phase in phases)
    assert len(buckets) == 30
    assert max(buckets.values()) < 2 * len(links) / 30


def test_the_next_slot_is_at_the_phase_and_never_in_the_past() -> None:
    for now in (0, 1, 299_999, 300_000, 1_790_000_123_456):
        for phase in (0, 1, 150_000, 299_999):
            slot = next_slot_ms(now, phase, INTERVAL_MS)
            assert now <= slot < now + INTERVAL_MS
            assert slot % INTERVAL_MS == phase


def test_due_links_come_out_in_order_and_rescheduled_or_removed_ones_do_not_repeat() -> None:
    due = DueTimes()
    due.schedule("a", 30)
    due.schedule("b", 10)
    due.schedule("c", 20)
    due.schedule("a", 5)  # rescheduled earlier: the old entry must not come out again
    due.schedule("c", 50)  # later
    due.discard("b")
    assert len(due) == 2
    assert due.next_due_ms() == 5
    assert due.pop_due(4) is None
    assert due.pop_due(100) == ("a", 5)
    assert due.pop_due(100) == ("c", 50)
    assert due.pop_due(10**9) is None
    assert due.next_due_ms() is None
    assert "a" not in due

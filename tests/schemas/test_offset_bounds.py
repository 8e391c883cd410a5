"""A finite pass: how much there is, how much is done, when it is over."""

from __future__ import annotations

from aiokafka import TopicPartition

from nightstream.schemas.offset_bounds import OffsetBounds

A = TopicPartition("t", 0)
B = TopicPartition("t", 1)
EMPTY = TopicPartition("t", 2)


def _bounds() -> OffsetBounds:
    return OffsetBounds(start={A: 10, B: 0, EMPTY: 5}, end={A: 30, B: 5, EMPTY: 5})


def test_total_is_what_lies_between_start_and_end() -> None:
    assert _bounds().total == 25


def test_done_counts_from_the_start_and_stops_at_the_end() -> None:
    bounds = _bounds()
    assert bounds.done({}) == 0
    assert bounds.done({A: 20}) == 10
    assert bounds.done({A: 99, B: 2}) == 22


def test_reached_needs_every_partition_at_its_end() -> None:
    bounds = _bounds()
    assert not bounds.reached({A: 30})
    assert not bounds.reached({A: 29, B: 5})
    assert bounds.reached({A: 30, B: 5})


def test_nothing_to_do_is_reached_at_once() -> None:
    assert OffsetBounds({EMPTY: 5}, {EMPTY: 5}).reached({})

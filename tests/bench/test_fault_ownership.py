"""The fault run's "one poller instance at a time" judge, on hand-made status histories."""

from __future__ import annotations

from bench.fault_ownership import judge_ownership
from nightstream.schemas.records import LinkState, LinkStatusRecord


def status(link_id: str, state: LinkState, owner: str, at_ms: int) -> LinkStatusRecord:
    return LinkStatusRecord(link_id=link_id, state=state.value, owner=owner, updated_at_ms=at_ms)


RUNNING, RELEASED, STOPPED = LinkState.RUNNING, LinkState.RELEASED, LinkState.STOPPED


def test_a_hand_off_after_a_release_is_a_move_not_an_overlap() -> None:
    history = [
        status("p01", RUNNING, "a", 100),
        status("p01", RELEASED, "a", 200),
        status("p01", RUNNING, "b", 210),
        status("p02", RUNNING, "b", 100),
    ]
    result = judge_ownership(history, {})
    assert (result.overlaps, result.moves, result.stopped) == (0, 1, 0)
    assert result.links_by_owner == {"a": 1, "b": 2}


def test_a_start_while_another_live_instance_runs_the_link_is_an_overlap() -> None:
    history = [status("p01", RUNNING, "a", 100), status("p01", RUNNING, "b", 300)]
    result = judge_ownership(history, {"a": [50, 400]})
    assert result.overlaps == 1
    assert result.examples == ["p01 started on b while on a"]


def test_an_instance_killed_meanwhile_no_longer_runs_its_links() -> None:
    history = [
        status("p01", RUNNING, "a", 100),
        status("p01", RUNNING, "b", 300),
        status("p01", RUNNING, "b", 500),  # b restarted after its own kill: not a move
        status("p01", STOPPED, "b", 600),
    ]
    result = judge_ownership(history, {"a": [250], "b": [400]})
    assert (result.overlaps, result.moves, result.stopped) == (0, 1, 1)

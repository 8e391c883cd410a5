"""Writes asked for at once are done together, one at a time, and failures reach every caller."""

from __future__ import annotations

import asyncio

import pytest

from nightstream.schemas.fencing import _CURRENT
from nightstream.schemas.group_commit import GroupCommit


async def test_callers_arriving_during_a_write_share_the_next_one() -> None:
    writes: list[list[int]] = []
    first_write_may_end = asyncio.Event()

    async def write(items: list[int]) -> None:
        writes.append(items)
        if len(writes) == 1:
            await first_write_may_end.wait()

    commits: GroupCommit[int] = GroupCommit(write)
    first = asyncio.create_task(commits.submit(0))
    await asyncio.sleep(0.01)
    others = [asyncio.create_task(commits.submit(n)) for n in range(1, 50)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in [first, *others]), "nothing is written yet"
    first_write_may_end.set()
    await asyncio.gather(first, *others)
    assert writes == [[0], list(range(1, 50))]


async def test_a_failed_write_fails_its_callers_only() -> None:
    async def write(items: list[str]) -> None:
        if "bad" in items:
            raise RuntimeError("the broker went away")

    commits: GroupCommit[str] = GroupCommit(write)
    with pytest.raises(RuntimeError, match="broker went away"):
        await commits.submit("bad")
    await commits.submit("good")  # the next write goes on


async def test_the_write_runs_under_no_callers_lease() -> None:
    """A lane fenced on its own partitions must not fence another lane's answers."""
    seen: list[object] = []

    async def write(_items: list[str]) -> None:
        seen.append(_CURRENT.get())

    commits: GroupCommit[str] = GroupCommit(write)
    token = _CURRENT.set(object())  # type: ignore[arg-type]
    try:
        await commits.submit("answer")
    finally:
        _CURRENT.reset(token)
    assert seen == [None]

"""SIGTERM asks a job to stop; a job that does not stop within the grace period is cancelled."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from nightstream import interruptible
from nightstream.interruptible import Cancelled, run_interruptibly
from tests.timing import scaled


def _sigterm_soon() -> None:
    asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)


def test_a_job_that_observes_stop_ends_with_its_result() -> None:
    async def job(stop: asyncio.Event) -> str:
        _sigterm_soon()
        await stop.wait()
        return "stopped cleanly"

    assert run_interruptibly(job) == "stopped cleanly"


def test_a_job_that_ignores_stop_is_cancelled_after_the_grace_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(interruptible, "STOP_GRACE_SECONDS", 0.3)
    cleaned_up: list[bool] = []

    async def job(stop: asyncio.Event) -> None:
        _sigterm_soon()
        try:
            await asyncio.sleep(3600)  # a retry loop that never looks at ``stop``
        finally:
            cleaned_up.append(True)

    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_interruptibly(job)
    assert time.monotonic() - started < 0.4 + scaled(1.0)
    assert cleaned_up == [True]


def test_tasks_left_behind_do_not_keep_the_loop_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interruptible, "CANCEL_SECONDS", 0.5)
    survived: list[bool] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            survived.append(True)  # a client's cleanup that swallows the cancellation

    async def job(stop: asyncio.Event) -> str:
        asyncio.get_running_loop().create_task(stubborn())
        _sigterm_soon()
        await stop.wait()
        return "done"

    started = time.monotonic()
    assert run_interruptibly(job) == "done"
    assert survived == [True]
    assert time.monotonic() - started < scaled(2.0)

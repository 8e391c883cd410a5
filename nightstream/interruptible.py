"""Stopping on SIGINT/SIGTERM: ask first, insist after a grace period or a second signal.

The first signal sets the job's ``stop`` event: roles finish what is in flight (a sink's
writes get a short drain), commit what was acknowledged and return. If the job is still busy
``STOP_GRACE_SECONDS`` later, or a second signal comes, it is cancelled: whatever was not
committed is simply done again by the next run. A job that does not end even then (a cleanup
stuck on a dead connection) is abandoned, so the process always ends within
``STOP_GRACE_SECONDS + CANCEL_SECONDS`` of the first signal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

STOP_GRACE_SECONDS = 5.0
CANCEL_SECONDS = 3.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancelled(Exception):
    """The job was cancelled before it could stop cleanly."""


def run_interruptibly(job: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
    """Run ``job(stop)`` in a new event loop until it ends; see the module for signals."""
    return asyncio.run(_supervise(job))


async def _supervise(job: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
    loop = asyncio.get_running_loop()
    stop, insist = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            insist.set()
        stop.set()

    for signum in _SIGNALS:
        loop.add_signal_handler(signum, on_signal)
    task = loop.create_task(job(stop))
    try:
        await _until(task, stop)
        if not task.done():
            await _until(task, insist, within=STOP_GRACE_SECONDS)
        if not task.done():
            await _cancel(task)
            raise Cancelled
        return task.result()
    finally:
        if stop.is_set():
            await _end_leftovers(clean=task.done() and not task.cancelled())
        for signum in _SIGNALS:
            loop.remove_signal_handler(signum)


async def _until(task: asyncio.Task[T], event: asyncio.Event, within: float | None = None) -> None:
    """Wait until ``task`` ends or ``event`` is set, at most ``within`` seconds."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def _cancel(task: asyncio.Task[T]) -> None:
    """Cancel ``task`` (again and again: each cleanup step it awaits may block too)."""
    deadline = asyncio.get_running_loop().time() + CANCEL_SECONDS
    while not task.done():
        if asyncio.get_running_loop().time() >= deadline:
            _exit_now(1, "still not stopped %.0f s after cancelling; exiting", CANCEL_SECONDS)
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)


async def _end_leftovers(*, clean: bool) -> None:
    """Cancel the tasks the job left behind (a Kafka client that was never stopped, say).

    ``asyncio.run`` would wait for them without limit; one blocked on a broker that does not
    answer would keep the process alive long after the job ended.
    """
    leftovers = asyncio.all_tasks() - {asyncio.current_task()}
    for leftover in leftovers:
        leftover.cancel()
    if leftovers:
        _done, pending = await asyncio.wait(leftovers, timeout=CANCEL_SECONDS)
        if pending:
            code = 0 if clean else 1
            _exit_now(code, "%d background task(s) would not end; exiting", len(pending))


def _exit_now(code: int, message: str, *args: object) -> None:
    logger.error(message, *args)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)

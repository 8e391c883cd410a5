"""Run a finite job that stops cleanly on Ctrl-C: first signal asks, second one insists.

The first SIGINT or SIGTERM sets the job's ``stop`` event: it finishes what is in flight (and
commits it) and returns. A second one cancels the job outright: whatever was not acknowledged
is simply done again by the next run.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """The job was cancelled by a second signal before it could stop cleanly."""


def run_interruptibly(job: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
    async def main() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal() -> None:
            if stop.is_set():
                task.cancel()
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal)
        try:
            return await job(stop)
        except asyncio.CancelledError:
            raise Cancelled from None
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    return asyncio.run(main())

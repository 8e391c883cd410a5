"""A progress line for finite runs (replay, reprocess): done/total, rate and time left.

On a terminal the line redraws itself in place; anywhere else (a log file, a pipe) it prints one
plain line per interval, so logs stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import TextIO

TTY_INTERVAL_S = 0.5
PLAIN_INTERVAL_S = 10.0


def format_duration(seconds: float) -> str:
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(done: int, total: int, elapsed_s: float, unit: str) -> str:
    """``4 000/8 640 docs (46.3 %), 812 docs/s, ETA 0:06``."""
    done = min(done, total)
    share = f" ({100 * done / total:.1f} %)" if total else ""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    if done >= total:
        eta = "done"
    elif rate > 0:
        eta = f"ETA {format_duration((total - done) / rate)}"
    else:
        eta = "ETA unknown"
    return (
        f"{_grouped(done)}/{_grouped(total)} {unit}{share}, {_grouped(round(rate))} {unit}/s, {eta}"
    )


def _grouped(number: int) -> str:
    return f"{number:,}".replace(",", " ")


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        unit: str = "docs",
        tty: bool | None = None,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self._stream = stream
        self._unit = unit
        self._tty = stream.isatty() if tty is None else tty
        self.interval_s = interval_s or (TTY_INTERVAL_S if self._tty else PLAIN_INTERVAL_S)
        self._clock = clock
        self._started = clock()

    def show(self, done: int) -> None:
        line = progress_line(done, self.total, self._clock() - self._started, self._unit)
        if self._tty:
            self._stream.write(f"\r{line}\x1b[K")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def finish(self, done: int) -> None:
        self.show(done)
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


@contextlib.asynccontextmanager
async def showing(progress: Progress, done: Callable[[], int]) -> AsyncIterator[None]:
    """Show ``done()`` every interval while the block runs, and a last time at its end."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(progress.interval_s)
            progress.show(done())

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        progress.finish(done())

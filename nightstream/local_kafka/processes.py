"""Small process facts the launcher needs: alive (not a zombie), whose command line, and a
child that the kernel stops when its parent dies."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

_PR_SET_PDEATHSIG = 1


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            state = stat.read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")
    return True


def command_line(pid: int) -> str:
    """The process's arguments joined by spaces ('' when unknown)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def stop_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send ``signum`` to the child once the thread that
    started it is gone (Linux only; None elsewhere). Start such children from a thread that
    lives as long as they should: the main thread."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def arrange() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signum)

    return arrange


def _unwind(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM unwinds like Ctrl-C (``finally`` blocks run) instead of ending
    the process at once, so that a broker being started or stopped is not left behind. Main
    thread only; an event loop's own handler takes over while the loop runs."""
    previous = signal.signal(signal.SIGTERM, _unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

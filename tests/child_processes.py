"""Subprocesses that never outlive the test run.

Each child starts in a session (and process group) of its own, so that killing it takes
whatever it started too. Three layers make sure it goes away:

- ``kill_group`` in the helper's teardown (tests/integration/pipeline.py, cli_runs.py) and in
  the autouse fixture of tests/conftest.py, which runs after every test, also one that failed
  or hit pytest-timeout;
- an ``atexit`` hook for an interrupted session;
- on Linux, ``PR_SET_PDEATHSIG``: the kernel kills the child when the test runner dies without
  any teardown (SIGKILL, or pytest-timeout's thread method, which calls ``os._exit``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tests.timing import scaled

_PR_SET_PDEATHSIG = 1
_live: list[subprocess.Popen[bytes]] = []


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def arrange() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return arrange


_PREEXEC = _die_with_parent()


def spawn(args: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` in a process group of its own, registered for cleanup."""
    process: subprocess.Popen[bytes] = subprocess.Popen(
        list(args), start_new_session=True, preexec_fn=_PREEXEC, **options
    )
    _live.append(process)
    return process


def kill_group(process: subprocess.Popen[bytes], grace: float = 0.0) -> None:
    """SIGTERM (if ``grace``) then SIGKILL the child's whole process group, and reap it."""
    if grace > 0 and process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    _signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=scaled(10))
    with contextlib.suppress(ValueError):
        _live.remove(process)


def kill_all() -> list[str]:
    """Kill every child still registered; the commands of those that were still running."""
    left = [" ".join(map(str, p.args)) for p in _live if p.poll() is None]  # type: ignore[arg-type]
    for process in list(_live):
        kill_group(process)
    return left


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # Only while the leader is unreaped: after that its pid (the group id) may be reused.
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)


atexit.register(kill_all)

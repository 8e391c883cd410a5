"""A ``nightstream`` command as a subprocess, its stdout and stderr kept apart in files."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.child_processes import kill_group, spawn
from tests.integration.pipeline import child_environment
from tests.timing import scaled


@dataclass
class CliRun:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    @classmethod
    def start(
        cls, workdir: Path, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> CliRun:
        out, err = workdir / f"{name}.out", workdir / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = spawn(
                [sys.executable, "-m", "nightstream.cli", *args],
                stdout=stdout,
                stderr=stderr,
                cwd=workdir,
                env=child_environment(env),
            )
        return cls(process, out, err)

    async def wait(self, within: float = 120) -> int:
        """The exit code, waiting without blocking the event loop (a test server runs on it).

        ``within`` is for an idle machine; the limit is scaled (tests/timing.py).
        """
        limit = scaled(within)
        deadline = asyncio.get_running_loop().time() + limit
        while self.process.poll() is None:
            if asyncio.get_running_loop().time() > deadline:
                kill_group(self.process)
                raise AssertionError(f"{self.process.args!r} still running after {limit:.0f} s")
            await asyncio.sleep(0.05)
        return self.process.returncode

    def signal(self, signum: signal.Signals) -> None:
        assert self.process.poll() is None, f"exited early: {self.stderr()}"
        self.process.send_signal(signum)

    def stop(self) -> None:
        kill_group(self.process)

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

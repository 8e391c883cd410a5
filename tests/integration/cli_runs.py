"""A ``nightstream`` command as a subprocess, its stdout and stderr kept apart in files."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


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
        base = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTSTREAM_")}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "nightstream.cli", *args],
                stdout=stdout,
                stderr=stderr,
                cwd=workdir,
                env={**base, **(env or {})},
            )
        return cls(process, out, err)

    async def wait(self, within: float = 120) -> int:
        """The exit code, waiting without blocking the event loop (a test server runs on it)."""
        deadline = asyncio.get_running_loop().time() + within
        while self.process.poll() is None:
            if asyncio.get_running_loop().time() > deadline:
                self.process.kill()
                raise AssertionError(f"{self.process.args!r} still running after {within:.0f} s")
            await asyncio.sleep(0.1)
        return self.process.returncode

    def signal(self, signum: signal.Signals) -> None:
        assert self.process.poll() is None, f"exited early: {self.stderr()}"
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

"""nightstream as a user installs it: built into a wheel, put in a fresh venv or by pipx, run
from a folder outside the checkout, with none of the checkout's paths or settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.child_processes import kill_group, spawn
from tests.timing import scaled

REPO = Path(__file__).resolve().parents[2]
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
"""What a child inherits: no NIGHTSTREAM_*, CONNECT_* or venv of whoever runs the tests."""


def user_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    kept = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    return {**kept, **(extra or {})}


@dataclass(frozen=True)
class Finished:
    code: int
    output: str
    seconds: float


def run_to_end(
    args: Sequence[str | Path], cwd: Path, within: float, env: dict[str, str] | None = None
) -> Finished:
    """Run a command to its end (stdout and stderr together); killed after ``scaled(within)``."""
    log = cwd / f"run-{time.monotonic_ns()}.log"
    started = time.monotonic()
    with log.open("wb") as output:
        process = spawn(
            [str(a) for a in args],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=user_environment(env),
        )
    try:
        code = process.wait(timeout=scaled(within))
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise AssertionError(
            f"{args} still running after {scaled(within):.0f} s:\n{log.read_text()[-3000:]}"
        ) from None
    finally:
        kill_group(process)
    return Finished(code, log.read_text(errors="replace"), time.monotonic() - started)


def succeeded(args: Sequence[str | Path], cwd: Path, within: float, **env: str) -> Finished:
    finished = run_to_end(args, cwd, within, env)
    assert finished.code == 0, f"{args}: exit {finished.code}\n{finished.output[-3000:]}"
    return finished


def build_wheel(out: Path) -> Path:
    """sdist first, then the wheel from the unpacked sdist, as a package index would hold them
    (a file the sdist leaves out is missing from the wheel too)."""
    succeeded(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", out, REPO], out, within=180
    )
    [wheel] = out.glob("nightstream-*.whl")
    return wheel


def fresh_venv(where: Path, requirement: str) -> Path:
    """A venv without pip of its own, ``requirement`` installed into it; the venv's python."""
    succeeded([sys.executable, "-m", "venv", "--without-pip", where], where.parent, within=60)
    python = where / "bin" / "python"
    pip_install(python, requirement)
    return python


def pip_install(python: Path, requirement: str) -> None:
    """``requirement`` into ``python``'s venv, by this pip (its cache and wheels reused)."""
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    succeeded([*pip, requirement], python.parent, within=300)


def site_packages(python: Path) -> Path:
    return next((python.parent.parent / "lib").glob("python3.*/site-packages"))


def installed_files(python: Path, distribution: str) -> list[str]:
    """The paths the distribution's RECORD lists, relative to site-packages."""
    [record] = site_packages(python).glob(f"{distribution}-*.dist-info/RECORD")
    return [line.split(",")[0] for line in record.read_text().splitlines() if line]


def importable(python: Path, module: str, cwd: Path) -> bool:
    check = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return run_to_end([python, "-c", check], cwd, within=30).code == 0


@dataclass
class Served:
    """A server process that prints what it serves on its first stdout lines."""

    process: subprocess.Popen[bytes]
    out: Path

    @classmethod
    def start(
        cls, args: Sequence[str | Path], cwd: Path, name: str, env: dict[str, str] | None = None
    ) -> Served:
        out = cwd / f"{name}.out"
        with out.open("wb") as stdout, (cwd / f"{name}.err").open("wb") as stderr:
            process = spawn(
                [str(a) for a in args],
                stdout=stdout,
                stderr=stderr,
                cwd=cwd,
                env=user_environment(env),
            )
        return cls(process, out)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_: object) -> None:
        kill_group(self.process)

    def output(self) -> str:
        err = self.out.with_suffix(".err")
        return self.out.read_text(errors="replace") + err.read_text(errors="replace")

    def stop(self, within: float) -> int:
        """SIGTERM, then the exit code; killed if still running after ``scaled(within)``."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=scaled(within))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.process.args!r} still running after SIGTERM") from None
        finally:
            kill_group(self.process)

    def first_lines(self, count: int, within: float = 60) -> list[str]:
        deadline = time.monotonic() + scaled(within)
        while time.monotonic() < deadline:
            lines = self.out.read_text().splitlines()
            if len(lines) >= count:
                return lines[:count]
            assert self.process.poll() is None, f"{self.process.args!r} exited"
            time.sleep(0.1)
        raise AssertionError(f"{self.process.args!r} printed nothing within {scaled(within)} s")

    def first_json(self) -> dict[str, Any]:
        description: dict[str, Any] = json.loads(self.first_lines(1)[0])
        return description


def v3_entries(url: str, token: str) -> list[dict[str, Any]]:
    """The site's entries, through API v3 as any client reads them."""
    with httpx.Client(base_url=url, timeout=30) as http:
        jwt = http.get(f"/api/v2/authorization/request/{token}").json()["token"]
        answer = http.get(
            "/api/v3/entries", params={"limit": 1000}, headers={"Authorization": f"Bearer {jwt}"}
        )
        answer.raise_for_status()
        entries: list[dict[str, Any]] = answer.json()["result"]
        return entries

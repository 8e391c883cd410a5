"""Helpers to run nightstream's roles as real processes against the session's broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nightstream.config import load_settings
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.topics import topic_catalog
from nightstream.sources.runner import LinkState, PollerOptions
from nightstream.sources.simclock import ManualClock
from nightstream.topics_admin import ensure_topics
from tests.child_processes import kill_group, spawn
from tests.kafka_broker import unique_name
from tests.timing import scaled


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the NIGHTSTREAM_ settings of whoever runs the tests."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTSTREAM_")}
    return {**base, **(extra or {})}


@dataclass(frozen=True)
class LinkSpec:
    link_id: str
    username: str
    password: str
    region: str
    server_url: str
    targets: tuple[str, ...] = ("ns",)
    vendor: str = "dexcomshare"
    extra: tuple[tuple[str, str], ...] = ()
    """Further link settings written as strings, e.g. (("patient_id", "..."),)."""


@dataclass
class Pipeline:
    """One isolated pipeline: its own topic prefix and config file, roles as subprocesses."""

    bootstrap: str
    workdir: Path
    prefix: str = field(default_factory=lambda: unique_name("it"))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kafka_options: tuple[str, ...] = ()
    """Further ``[kafka]`` lines of the config file (TLS, SASL)."""

    @property
    def config(self) -> Path:
        return self.workdir / "nightstream.toml"

    def write_config(
        self,
        targets: dict[str, tuple[str, str]],
        links: list[LinkSpec],
        target_timeout: float | None = None,
        target_options: dict[str, str] | None = None,
    ) -> None:
        """``target_options``: further settings of every target, as TOML values."""
        lines = [
            'log_level = "INFO"',
            "[kafka]",
            f'bootstrap_servers = "{self.bootstrap}"',
            f'topic_prefix = "{self.prefix}"',
            "partitions = 3",
            *self.kafka_options,
        ]
        for name, (url, token) in targets.items():
            lines += [f"[targets.{name}]", f'url = "{url}"', f'token = "{token}"']
            if target_timeout is not None:
                lines.append(f"timeout_seconds = {target_timeout}")
                # Faults are frequent here; a production-length backoff would outlast the test.
                lines.append("max_retry_delay_seconds = 5")
            lines += [f"{key} = {value}" for key, value in (target_options or {}).items()]
        for link in links:
            lines += [
                "[[links]]",
                f'id = "{link.link_id}"',
                f'vendor = "{link.vendor}"',
                f'username = "{link.username}"',
                f'password = "{link.password}"',
                f'region = "{link.region}"',
                f'server_url = "{link.server_url}"',
                "targets = [" + ", ".join(f'"{t}"' for t in link.targets) + "]",
            ]
            lines += [f'{key} = "{value}"' for key, value in link.extra]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    async def create_topics(self) -> None:
        await ensure_topics(self.bootstrap, topic_catalog(self.prefix, partitions=3))

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            process = spawn(
                [sys.executable, "-m", "nightstream.cli", *args, "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(),
            )
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            kill_group(process)

    def stop_all(self) -> None:
        """SIGTERM every role (they stop within seconds), SIGKILL what is left."""
        for name, process in list(self.processes.items()):
            kill_group(process, grace=scaled(20))
            self.processes.pop(name)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> Iterator[tuple[str, str]]:
        for path in sorted(self.workdir.glob("*.log")):
            yield path.stem, path.read_text(errors="replace")


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, within: float, what: str, interval: float = 0.5
) -> None:
    """Poll ``condition`` until true; ``within`` seconds on an idle machine (scaled here)."""
    limit = scaled(within)
    deadline = asyncio.get_running_loop().time() + limit
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {limit:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


async def poll_once(
    pipeline: Pipeline, clock: ManualClock | None = None, link_ids: list[str] | None = None
) -> None:
    """One poll of the configured links (or ``link_ids``), in this process, on ``clock``; every
    link must end it done."""
    options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
    settings = load_settings({}, pipeline.config)
    now = clock.now_ms if clock is not None else None
    poller = (
        build_poller(settings, options, link_ids)
        if now is None
        else build_poller(settings, options, link_ids, clock=now)
    )
    await poller.run(asyncio.Event())
    assert {s.state for s in poller.status.values()} == {LinkState.DONE}, poller.status

"""One single-node KRaft broker running from a directory: start, wait until ready, stop.

The directory holds ``server.properties`` (written on every start), ``cluster.id``, ``data/``,
``broker.pid``, ``broker.log`` (and the previous run's ``broker.log.1``). A later start re-uses
its ports and data. Started *attached*, the broker is stopped by the kernel if the starting
process dies (Linux); *detached*, it outlives the command that started it, optionally watched
by a small process that stops it once an owner process is gone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from nightstream.local_kafka.jars import Progress, fetch_jars, read_lock
from nightstream.local_kafka.java import require_java
from nightstream.local_kafka.processes import alive, command_line, stop_with_parent
from nightstream.local_kafka.server_config import (
    Profile,
    jvm_flags,
    read_properties,
    render,
    server_properties,
)

logger = logging.getLogger(__name__)

READY_LINE = "Kafka Server started"
JVM_OPTS_ENV = "KAFKA_LOCAL_JVM_OPTS"
STOP_GRACE_S = 20.0


class BrokerError(Exception):
    """The broker could not be started (the message says why and where its log is)."""


@dataclass(frozen=True)
class BrokerOptions:
    port: int | None = None
    controller_port: int | None = None
    profile: Profile = "dev"
    extra_properties: Mapping[str, str] = field(default_factory=dict)
    """Set over the profile's (a SASL_SSL listener for tests, say)."""
    ready_timeout_s: float = 90.0
    scram: Sequence[str] = ()
    """``MECHANISM=[name=USER,password=PASSWORD]`` logins created when the data is formatted."""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _cluster_id() -> str:
    # 16 random bytes, URL-safe base64 unpadded; Kafka's tools reject an id starting with '-'.
    while True:
        text = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class LocalBroker:
    def __init__(self, directory: Path, options: BrokerOptions | None = None) -> None:
        self.directory = directory.resolve()
        self.options = options or BrokerOptions()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.directory / "broker.log"

    @property
    def data_path(self) -> Path:
        return self.directory / "data"

    @property
    def _pid_path(self) -> Path:
        return self.directory / "broker.pid"

    @property
    def _watchdog_path(self) -> Path:
        return self.directory / "watchdog.pid"

    def _port_of(self, listener: str) -> int | None:
        listeners = read_properties(self.config_path).get("listeners", "")
        match = re.search(rf"{listener}://127\.0\.0\.1:(\d+)", listeners)
        return int(match.group(1)) if match else None

    @property
    def port(self) -> int | None:
        return self._port_of("PLAINTEXT")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        """The pid of the broker running from this directory, if one is."""
        try:
            pid = int(self._pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        if not alive(pid):
            return None
        # A recycled pid is someone else's: it must be kafka.Kafka on this directory's config.
        line = command_line(pid)
        if line and not ("kafka.Kafka" in line and str(self.config_path) in line):
            return None
        return pid

    def exit_code(self) -> int | None:
        """The exit status of a broker this object started attached, once it ended."""
        return None if self._process is None else self._process.poll()

    # -- starting ----------------------------------------------------------------------------

    def start(self, progress: Progress, *, attached: bool, owner_pid: int | None = None) -> str:
        """Fetch the jars if needed, start the broker, wait until it answers; the bootstrap
        servers. A broker already running from the directory is stopped first when
        ``attached`` (it is left over from a process that died), re-used otherwise."""
        java = require_java()
        libs = fetch_jars(progress)
        self.directory.mkdir(parents=True, exist_ok=True)
        running = self.pid()
        if running is not None:
            if not attached:
                progress(f"already running (pid {running})")
                self.wait_ready(running)
                return self.bootstrap
            progress(f"stopping a broker left running from {self.directory} (pid {running})")
            self.stop()
        self.spawn(java, libs, attached=attached)
        if owner_pid is not None:
            self._watch(owner_pid)
        self.wait_ready()
        return self.bootstrap

    def _ports(self) -> tuple[int, int]:
        port = self.options.port or self._port_of("PLAINTEXT")
        controller = self.options.controller_port or self._port_of("CONTROLLER")
        if port is None or controller is None:
            free = _free_ports(2)
            port, controller = port or free[0], controller or free[1]
        if port == controller:
            raise BrokerError("the broker port and the controller port must differ")
        for taken in (port, controller):
            if _port_busy(taken):
                raise BrokerError(f"port {taken} on 127.0.0.1 is already in use")
        return port, controller

    def _java_base(self, java: str, libs: Path) -> list[str]:
        log4j = resources.files(__package__).joinpath("log4j.properties")
        return [java, f"-Dlog4j.configuration=file:{log4j}", "-cp", f"{libs}/*"]

    def _format(self, base: Sequence[str]) -> None:
        if (self.data_path / "meta.properties").is_file():
            return
        id_file = self.directory / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(_cluster_id() + "\n")
        formatted = subprocess.run(
            [
                *base[:1],
                "-Xmx128m",
                *base[1:],
                "kafka.tools.StorageTool",
                "format",
                "-t",
                id_file.read_text().strip(),
                "-c",
                str(self.config_path),
                "--ignore-formatted",
                *[arg for login in self.options.scram for arg in ("--add-scram", login)],
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            raise BrokerError(
                f"formatting {self.data_path} failed:\n{formatted.stdout}{formatted.stderr}"
            )

    def spawn(self, java: str, libs: Path, *, attached: bool) -> int:
        """Write the config, format the data once, and start the JVM (not waiting for it)."""
        port, controller = self._ports()
        properties = server_properties(
            self.directory, port, controller, self.options.profile, self.options.extra_properties
        )
        self.config_path.write_text(render(properties), encoding="utf-8")
        base = self._java_base(java, libs)
        self._format(base)
        if self.log_path.exists():
            self.log_path.replace(self.directory / "broker.log.1")
        extra_jvm = shlex.split(os.environ.get(JVM_OPTS_ENV, ""))
        command = [
            *base[:1],
            *jvm_flags(self.options.profile),
            *extra_jvm,
            *base[1:],
            "kafka.Kafka",
            str(self.config_path),
        ]
        with self.log_path.open("wb") as log:
            # A session of its own: the terminal's Ctrl-C goes to nightstream, which stops the
            # broker after the roles that use it.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=stop_with_parent() if attached else None,
            )
        self._pid_path.write_text(f"{self._process.pid}\n")
        return self._process.pid

    def _watch(self, owner_pid: int) -> None:
        watchdog = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nightstream.local_kafka",
                "watch",
                "--owner",
                str(owner_pid),
                "--dir",
                str(self.directory),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._watchdog_path.write_text(f"{watchdog.pid}\n")

    def _failed(self, why: str) -> BrokerError:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-30:]
        except OSError:
            tail = []
        self.stop()
        shown = "\n".join(tail)
        return BrokerError(f"{why}; the last lines of {self.log_path}:\n{shown}")

    def wait_ready(self, pid: int | None = None) -> None:
        asyncio.run(self.wait_ready_async(pid))

    async def wait_ready_async(self, pid: int | None = None) -> None:
        """Until the broker logged that it started and answers a metadata request."""
        from nightstream.broker_probe import unreachable_reason

        pid = pid or self.pid()
        deadline = time.monotonic() + self.options.ready_timeout_s
        while True:
            if pid is None or self.exit_code() is not None or not alive(pid):
                raise self._failed("the broker exited during startup")
            started = READY_LINE in self.log_path.read_text(errors="replace")
            if started and await unreachable_reason(self.bootstrap, within=5) is None:
                return
            if time.monotonic() > deadline:
                raise self._failed(
                    f"the broker was not ready after {self.options.ready_timeout_s:.0f} s"
                )
            await asyncio.sleep(0.2)

    # -- stopping ----------------------------------------------------------------------------

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM, SIGKILL after ``grace_s``; the pid that was stopped (None: none ran)."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not self._gone_within(pid, grace_s):
                logger.warning("the broker (pid %d) is still running after %.0f s", pid, grace_s)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._gone_within(pid, 5)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
        self._pid_path.unlink(missing_ok=True)
        self._stop_watchdog()
        return pid

    def _gone_within(self, pid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                if self._process.poll() is not None:
                    return True
            elif not alive(pid):
                return True
            time.sleep(0.1)
        return False

    def _stop_watchdog(self) -> None:
        try:
            pid = int(self._watchdog_path.read_text().strip())
        except (OSError, ValueError):
            return
        if "nightstream.local_kafka" in command_line(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._watchdog_path.unlink(missing_ok=True)


def kafka_version() -> str:
    return read_lock().kafka_version

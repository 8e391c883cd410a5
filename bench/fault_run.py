"""Fault run (issue #6): the whole pipeline through a simulated day of crashes and faults.

    .venv/bin/python -m bench.fault_run [--links 20] [--hours 24] [--speed 144] [--kills 10]
                                        [--broker-restarts 1] [--seed 1] [--keep]
                                        [--settle-timeout 900] [--results fault_run]

N simulated Dexcom Share links (one ``ShareSimulator`` in this process) feed Kafka through two
poller instances (``bench/fault_poller.py``, sharing the links over the links topic, where
``nightstream links import`` puts them), two processor instances (``nightstream process``) and
two sink instances (``nightstream sink``), each its own process, into a home Nightscout test
server (its own process); one more link reads the first account's stream for a clinic site (a
second test server), which must hold exactly that stream's readings, once.
Simulated time runs ``--speed`` times faster than real time on a clock the simulator and the
poller share. While the simulated day runs:

- every instance is SIGKILLed ``--kills`` times at random moments (one in each of ``--kills``
  equal slices of the day) and started again 0.2-1.5 s later; a role that exits on its own is
  counted and started again too; one processor and one sink are SIGSTOPped past the session
  timeout, then continued;
- the broker is restarted (``kafka-local restart``) ``--broker-restarts`` times;
- Nightscout fails 15 % of requests (500/503, half of the writes after storing them) and hangs
  5 % (longer than the sink's 2 s timeout, half after storing), from the first writes on;
- the simulator answers HTTP errors (500/502/503/429), expires or forgets every session, and
  rejects reads with session faults, in turn at random moments (one per ~30 simulated minutes);
- bad records are made on purpose: the simulator slips a malformed reading (bad date, no value,
  not an object) into some answers, and garbled records (not Avro; an envelope whose body is not
  JSON) go straight onto the raw topic; one answer is larger than a raw record may be;
- the simulator revises readings it served (same time, a new value), so documents get new
  versions.

Then the faults stop, every link is read twice more without faults, the poller is stopped, and
once the processor and the sink have committed everything the figures compare what Nightscout
holds with what the simulator served (each link's readings from its first window to its last
read, values regenerated from the simulator's traces, revisions applied; see
``bench/fault_served.py`` for the oversize answer), the DLQ with the bad records found on the raw
topic (each raw element checked against the simulator's own renderings of that reading) plus a
reference to each oversize answer, and the link-status topic's history with "one instance at a
time" (``bench/fault_ownership.py``).

``fault_run()`` is the reusable part; ``tests/integration/test_fault_run.py`` runs a short form.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from bench.common import (
    KAFKA_LOCAL,
    TestServerProcess,
    child_env,
    machine,
    table,
    unique_prefix,
    write_results,
)
from bench.fault_ownership import Ownership, judge_ownership, status_history
from bench.fault_poller import WallAnchoredClock
from bench.fault_served import ServedReadings
from nightstream.kafka_offsets import group_lag, sink_backlog
from nightstream.schemas.compacted import read_latest, read_records
from nightstream.schemas.documents import Collection, canonical_json, from_avro
from nightstream.schemas.errors import RecordDecodeError
from nightstream.schemas.identity import device_name, entry_identifier, stream_digest
from nightstream.schemas.kafka_clients import kafka_producer
from nightstream.schemas.records import DeadLetter, RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import MAX_VENDOR_ANSWER_BYTES, TopicNames, topic_catalog
from nightstream.schemas.version import app_version
from nightstream.simulators.dexcomshare import ShareSimulator, SimAccount, generate_accounts
from nightstream.simulators.dexcomshare.counters import ReadRequest
from nightstream.simulators.dexcomshare.formats import MALFORMED_KINDS, compact_json
from nightstream.simulators.kit.glucose import (
    DAY_MS,
    HIGHEST_MGDL,
    HOUR_MS,
    LOWEST_MGDL,
    READING_INTERVAL_MS,
    Reading,
)
from nightstream.sources.dexcomshare.servers import READ_GLUCOSE
from nightstream.sources.link_credentials import KEY_ENV, new_key
from nightstream.sources.publisher import OVERSIZE_STAGE
from nightstream.sources.simclock import wall_clock_ms
from nightstream.topics_admin import ensure_topics

PARTITIONS = 3
POLLERS = ("poller-a", "poller-b")
"""Two poller instances in the pollers' group over the links topic (static membership)."""
ROLES = (*POLLERS, "processor-a", "processor-b", "sink-a", "sink-b")
"""Two instances of every role, each its own process, in one consumer group per role."""
PAUSED_ROLES = ("processor-b", "sink-b")
"""SIGSTOPped past the group's session timeout, then SIGCONTinued: they must write nothing stale."""
VENDOR = "dexcomshare"
HOME = "ns"
CLINIC = "clinic"
_CURRENT_DATE = re.compile(r"Date\(([0-9]+)\)")

Say = Callable[[str], None]
BrokerRestart = Callable[[], Awaitable[None]]


def _quiet(_message: str) -> None:
    return None


@dataclass(frozen=True)
class FaultRunConfig:
    links: int = 20
    simulated_hours: float = 24.0
    speed: float = 144.0
    """Simulated seconds per real second (144: one simulated day in 10 minutes)."""
    kills_per_role: int = 10
    pause_seconds: float = 22.0
    """How long each of ``PAUSED_ROLES`` stands still (the groups' session timeout is 15 s)."""
    broker_restarts: int = 1
    seed: int = 1
    malformed_readings: int = 6
    """Malformed readings the simulator slips into answers (one answer each)."""
    garbled_raw_records: int = 4
    """Records produced straight onto the raw topic: half not Avro, half a body that is not JSON."""
    vendor_every_s: float = 1800.0
    """Simulated seconds per vendor fault (at least six in all: see ``VENDOR_FAULTS``)."""
    ns_error_rate: float = 0.15
    ns_hang_rate: float = 0.05
    ns_hang_seconds: float = 5.0
    ns_after_write_rate: float = 0.5
    sink_timeout_seconds: float = 2.0
    oversize_answers: int = 1
    """Answers inflated past ``MAX_VENDOR_ANSWER_BYTES`` (each on a link of its own stream)."""
    revised_readings: int = 6
    """Readings the simulator revises after serving them (the first on the shared stream)."""
    restart_delay_s: tuple[float, float] = (0.2, 1.5)
    first_polls_timeout_s: float = 120.0
    final_polls_timeout_s: float = 180.0
    settle_timeout_s: float = 900.0


@dataclass
class VendorFaults:
    transport_failures_requested: int = 0
    transport_failures_served: int = 0
    session_expiries: int = 0
    sessions_forgotten: int = 0
    rejected_reads: int = 0
    malformed_requested: int = 0
    oversize_requested: int = 0
    revisions_made: int = 0
    logins: int = 0
    reads: int = 0


@dataclass
class FaultRunReport:
    config: FaultRunConfig
    prefix: str = ""
    expected_entries: int = 0
    held_entries: int = 0
    held_by_site: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    duplicate_identifiers: int = 0
    duplicate_readings: int = 0
    unexpected_entries: int = 0
    wrong_content: int = 0
    stale: int = 0
    """Documents whose content in Nightscout is not their latest version in Kafka."""
    skipped_by_oversize: int = 0
    """Readings only an oversize answer carried: legitimately absent, not counted as missing."""
    oversize_served: int = 0
    revisions_served: int = 0
    """Revised readings that an answer carried after the revision (they must land revised)."""
    revisions_both_in_raw: int = 0
    """Revised readings whose first and revised values both reached the raw topic."""
    versions_changed: int = 0
    """Entries with more than one content among their versions in Kafka."""
    ownership: Ownership = field(default_factory=Ownership)
    other_documents: int = 0
    dlq_expected: int = 0
    dlq_expected_by_kind: dict[str, int] = field(default_factory=dict)
    dlq_found: int = 0
    dlq_letters: int = 0
    dlq_missing: int = 0
    dlq_unexpected: int = 0
    garbled_produced: int = 0
    garbled_in_dlq: int = 0
    kills: dict[str, int] = field(default_factory=dict)
    pauses: dict[str, int] = field(default_factory=dict)
    unplanned_exits: dict[str, list[int]] = field(default_factory=dict)
    broker_restarts: int = 0
    broker_restart_s: list[float] = field(default_factory=list)
    ns_faults: dict[str, int] = field(default_factory=dict)
    ns_puts: int = 0
    vendor: VendorFaults = field(default_factory=VendorFaults)
    poller_exit_codes: dict[str, int | None] = field(default_factory=dict)
    wall_s: float = 0.0
    start_s: float = 0.0
    """From the start (topics, servers, links import, roles) until every link polled once."""
    fault_window_s: float = 0.0
    final_polls_s: float = 0.0
    settle_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    """Examples of what went wrong (missing readings, duplicates, unexpected letters...)."""

    @property
    def duplicates(self) -> int:
        return self.duplicate_identifiers + self.duplicate_readings

    @property
    def ok(self) -> bool:
        return (
            self.missing == 0
            and self.duplicates == 0
            and self.unexpected_entries == 0
            and self.wrong_content == 0
            and self.stale == 0
            and self.other_documents == 0
            and self.dlq_missing == 0
            and self.dlq_unexpected == 0
            and self.garbled_in_dlq == self.garbled_produced
            and self.ownership.overlaps == 0
        )

    def rows(self) -> list[tuple[str, str]]:
        c = self.config
        vendor = self.vendor
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.ns_faults.items())) or "none"
        by_kind = ", ".join(f"{k} {v}" for k, v in sorted(self.dlq_expected_by_kind.items()))
        exits = {r: len(codes) for r, codes in self.unplanned_exits.items()}
        return [
            ("links x simulated time", f"{c.links} x {c.simulated_hours:g} h at {c.speed:g}x"),
            ("expected entries", str(self.expected_entries)),
            (
                "held in Nightscout",
                f"{self.held_entries} ("
                + ", ".join(f"{s} {n}" for s, n in self.held_by_site.items())
                + f"; {CLINIC} gets the first stream through a second link)",
            ),
            ("missing", str(self.missing)),
            (
                "duplicates",
                f"{self.duplicates} (same identifier {self.duplicate_identifiers}, "
                f"same device+date {self.duplicate_readings})",
            ),
            (
                "unexpected / wrong content / stale",
                f"{self.unexpected_entries} / {self.wrong_content} / {self.stale}",
            ),
            (
                "versions that change",
                f"{vendor.revisions_made} readings revised, {self.revisions_served} served again "
                f"after the revision, {self.revisions_both_in_raw} with both values on the raw "
                f"topic; {self.versions_changed} entries with two contents in Kafka",
            ),
            (
                "oversize answers",
                f"{self.oversize_served} served (asked {vendor.oversize_requested}); "
                f"{self.skipped_by_oversize} readings only they carried (not expected)",
            ),
            (
                "links per poller instance",
                ", ".join(f"{o} {n}" for o, n in self.ownership.links_by_owner.items())
                + f"; {self.ownership.moves} moves, {self.ownership.overlaps} on two at once, "
                f"{self.ownership.stopped} stopped",
            ),
            ("DLQ expected (bad on purpose)", f"{self.dlq_expected} ({by_kind})"),
            (
                "DLQ found",
                f"{self.dlq_found} distinct in {self.dlq_letters} letters; "
                f"missing {self.dlq_missing}, unexpected {self.dlq_unexpected}",
            ),
            ("kills (SIGKILL)", ", ".join(f"{r} {self.kills.get(r, 0)}" for r in ROLES)),
            ("pauses (SIGSTOP)", ", ".join(f"{r} {n}" for r, n in self.pauses.items()) or "none"),
            ("unplanned exits", ", ".join(f"{r} {exits.get(r, 0)}" for r in ROLES)),
            (
                "broker restarts",
                f"{self.broker_restarts} ("
                + ", ".join(f"{s:.1f} s" for s in self.broker_restart_s)
                + ")",
            ),
            ("Nightscout faults injected", faults),
            ("Nightscout PUTs", str(self.ns_puts)),
            (
                "vendor errors",
                f"{vendor.transport_failures_served} HTTP errors served "
                f"({vendor.transport_failures_requested} asked), "
                f"{vendor.rejected_reads} reads rejected with session faults",
            ),
            (
                "vendor session expiries",
                f"{vendor.session_expiries} (all sessions ended), "
                f"{vendor.sessions_forgotten} (all sessions forgotten)",
            ),
            (
                "vendor logins / reads",
                f"{vendor.logins} / {vendor.reads} (malformed readings asked: "
                f"{vendor.malformed_requested})",
            ),
            (
                "wall time",
                f"{self.wall_s:.0f} s (start to first polls {self.start_s:.0f} s, faults "
                f"{self.fault_window_s:.0f} s, final polls {self.final_polls_s:.0f} s, "
                f"settling {self.settle_s:.0f} s)",
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["duplicates"] = self.duplicates
        data["ok"] = self.ok
        return data


# -- processes ----------------------------------------------------------------------------------


class RoleProcess:
    """One role as a child process that the run kills, restarts and watches."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, env: dict[str, str]):
        self.name = name
        self._argv = list(argv)
        self._workdir = workdir
        self._env = env
        self.log = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.lock = asyncio.Lock()
        self.wanted = False
        self.kills = 0
        self.pauses = 0
        self.unplanned_exits: list[int] = []
        self.deaths_ms: list[int] = []
        """When it was SIGKILLed or found dead (wall-clock ms)."""

    def start(self) -> None:
        with self.log.open("ab") as log:
            log.write(f"\n==== start {time.strftime('%H:%M:%S')} ====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self._argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._workdir,
                env=self._env,
            )
        self.wanted = True

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    async def _wait(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while self.exit_code() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def kill(self) -> None:
        """SIGKILL. A role found dead (it exited on its own) is counted, started and killed."""
        if self.process is None:
            return
        code = self.process.poll()
        if code is not None:
            self.found_dead(code)
            self.start()
            await asyncio.sleep(1.0)
        self.process.send_signal(signal.SIGKILL)
        self.deaths_ms.append(wall_clock_ms())
        await self._wait(30)
        self.kills += 1

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 30 s; the exit code."""
        self.wanted = False
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            if not await self._wait(30):
                self.process.kill()
                await self._wait(30)
        return self.process.poll()

    def found_dead(self, code: int) -> None:
        self.unplanned_exits.append(code)
        self.deaths_ms.append(wall_clock_ms())

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


async def _watch(roles: Sequence[RoleProcess], say: Say) -> None:
    """Start again a role that exited on its own (as a supervisor would), and count it."""
    while True:
        await asyncio.sleep(0.5)
        for role in roles:
            if not role.wanted or role.lock.locked() or role.exit_code() is None:
                continue
            async with role.lock:
                code = role.exit_code()
                if not role.wanted or code is None:
                    continue
                role.found_dead(code)
                say(f"  {role.name} exited on its own (code {code}); starting it again")
                await asyncio.sleep(1.0)
                role.start()


# -- Kafka helpers -------------------------------------------------------------------------------


class LocalKafka:
    """A ``compose/kafka/kafka-local`` broker of the run's own, which it can restart."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.bootstrap = ""

    async def _run(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            str(KAFKA_LOCAL),
            *args,
            "--dir",
            str(self.data_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"kafka-local {args[0]} failed: {err.decode(errors='replace')}")
        match = re.search(r"KAFKA_BOOTSTRAP_SERVERS=(\S+)", out.decode())
        return match.group(1) if match else ""

    async def start(self) -> str:
        self.bootstrap = await self._run("start", "--owner-pid", str(os.getpid()))
        return self.bootstrap

    async def restart(self) -> None:
        bootstrap = await self._run("restart")
        if bootstrap != self.bootstrap:
            raise RuntimeError(f"the broker came back on {bootstrap}, not {self.bootstrap}")

    async def stop(self) -> None:
        await self._run("stop")


# -- Nightscout test server (its own process) ---------------------------------------------------


class NightscoutAdmin:
    def __init__(self, server: TestServerProcess) -> None:
        self.url = server.url
        secret = hashlib.sha1(server.api_secret.encode()).hexdigest()  # noqa: S324 (API)
        self._headers = {"api-secret": secret}

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=120) as http:
            response = await http.request(method, path, json=body, headers=self._headers)
            response.raise_for_status()
            return response.json()

    async def set_faults(self, faults: dict[str, Any]) -> None:
        await self._call("POST", "/__testserver/faults", faults)

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/__testserver/faults")

    async def documents(self, collection: str) -> list[dict[str, Any]]:
        docs = await self._call("GET", f"/__testserver/documents/{collection}?include_deleted=true")
        assert isinstance(docs, list)
        return docs

    async def stats(self) -> dict[str, Any]:
        stats = await self._call("GET", "/__testserver/stats")
        assert isinstance(stats, dict)
        return stats


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class _Link:
    link_id: str
    account: SimAccount
    device: str
    targets: tuple[str, ...] = (HOME,)


def _links(accounts: Sequence[SimAccount]) -> list[_Link]:
    """One link per account to the home site, plus a second link on the first account's stream
    for the clinic site: two links on one stream, each with its own target."""
    links = [
        _Link(f"p{n:02d}", a, device_name(VENDOR, stream_digest(a.account_id)))
        for n, a in enumerate(accounts)
    ]
    first = links[0]
    return [*links, _Link(f"{first.link_id}-clinic", first.account, first.device, (CLINIC,))]


@dataclass(frozen=True)
class _Garbled:
    """A record produced straight onto the raw topic, and the dead letter it must become."""

    kind: str
    stage: str
    partition: int
    offset: int
    original: bytes


@dataclass
class _Chaos:
    """What the fault window did."""

    garbled: list[_Garbled] = field(default_factory=list)
    broker_restart_s: list[float] = field(default_factory=list)
    vendor: VendorFaults = field(default_factory=VendorFaults)


def _write_configs(
    workdir: Path,
    *,
    bootstrap: str,
    prefix: str,
    sites: Mapping[str, TestServerProcess],
    sink_timeout: float,
    links: Sequence[_Link],
    sim: ShareSimulator,
) -> tuple[Path, Path]:
    """The roles' configuration (targets, no links) and the same with the links, to import."""
    lines = [
        'log_level = "INFO"',
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        f'topic_prefix = "{prefix}"',
        f"partitions = {PARTITIONS}",
    ]
    for name, site in sites.items():
        lines += [
            f"[targets.{name}]",
            f'url = "{site.url}"',
            f'token = "{site.token}"',
            f"timeout_seconds = {sink_timeout}",
            "run_time_links = true",
        ]
    roles_file, links_file = workdir / "nightstream.toml", workdir / "links.toml"
    roles_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for link in links:
        account = link.account
        lines += [
            "[[links]]",
            f'id = "{link.link_id}"',
            f'vendor = "{VENDOR}"',
            f'username = "{account.username}"',
            f'password = "{account.password}"',
            f'region = "{account.region}"',
            f'server_url = "{sim.base_url(account.region)}"',
            "targets = [" + ", ".join(f'"{t}"' for t in link.targets) + "]",
        ]
    links_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return roles_file, links_file


async def _import_links(links_file: Path, env: dict[str, str], workdir: Path) -> None:
    """``nightstream links import``: the links go to the links topic, which the pollers share."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nightstream.cli",
        "links",
        "import",
        "--config",
        str(links_file),
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"nightstream links import failed: {out.decode(errors='replace')}")
    await asyncio.to_thread(links_file.unlink)  # it holds the vendor passwords in clear


def _slots(rng: random.Random, start: float, end: float, count: int) -> list[float]:
    """``count`` random moments, one inside each of ``count`` equal slices of [start, end]."""
    width = (end - start) / max(count, 1)
    return [start + width * (i + rng.uniform(0.1, 0.9)) for i in range(count)]


async def _sleep_until(moment: float) -> None:
    delay = moment - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


async def _pause_role(role: RoleProcess, moment: float, seconds: float, say: Say) -> None:
    """SIGSTOP at ``moment``, SIGCONT ``seconds`` later: the group gives the role's partitions
    to the other instance meanwhile, and the role resumes with work it fetched before."""
    await _sleep_until(moment)
    async with role.lock:
        process = role.process
        if process is None or process.poll() is not None:
            return
        say(f"  SIGSTOP {role.name} for {seconds:.0f} s")
        process.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            process.send_signal(signal.SIGCONT)
        role.pauses += 1


async def _kill_role(
    role: RoleProcess, moments: Sequence[float], rng: random.Random, config: FaultRunConfig
) -> None:
    for moment in moments:
        await _sleep_until(moment)
        async with role.lock:
            await role.kill()
            await asyncio.sleep(rng.uniform(*config.restart_delay_s))
            role.start()


async def _restart_broker(
    moments: Sequence[float], restart: BrokerRestart, lock: asyncio.Lock, chaos: _Chaos, say: Say
) -> None:
    for moment in moments:
        await _sleep_until(moment)
        async with lock:
            say("  restarting the broker")
            began = time.monotonic()
            await restart()
            chaos.broker_restart_s.append(time.monotonic() - began)
            say(f"  broker back after {chaos.broker_restart_s[-1]:.1f} s")


VENDOR_FAULTS = ("errors", "expire", "errors", "reject", "errors", "forget")


async def _vendor_faults(
    sim: ShareSimulator, rng: random.Random, moments: Sequence[float], vendor: VendorFaults
) -> None:
    """In turn: HTTP errors, all sessions ended, errors, reads rejected, errors, all forgotten."""
    for index, moment in enumerate(moments):
        await _sleep_until(moment)
        action = VENDOR_FAULTS[index % len(VENDOR_FAULTS)]
        if action == "errors":
            count = rng.randint(1, 4)
            status = rng.choice((500, 502, 503, 429))
            sim.fail_next(count, status=status, retry_after=1.0 if status == 429 else None)
            vendor.transport_failures_requested += count
        elif action == "expire":
            sim.expire_sessions()
            vendor.session_expiries += 1
        elif action == "forget":
            sim.expire_sessions(forget=True)
            vendor.sessions_forgotten += 1
        else:
            count = rng.randint(1, 3)
            sim.reject_next_reads(count, rng.choice(("SessionNotValid", "SessionIdNotFound")))
            vendor.rejected_reads += count


async def _malformed(
    sim: ShareSimulator,
    links: Sequence[_Link],
    moments: Sequence[float],
    rng: random.Random,
    vendor: VendorFaults,
) -> None:
    for index, moment in enumerate(sorted(moments)):
        await _sleep_until(moment)
        link = rng.choice(links)
        kind = MALFORMED_KINDS[index % len(MALFORMED_KINDS)]
        sim.inject_malformed_reading(link.account.username, kind=kind, count=1)
        vendor.malformed_requested += 1


OVERSIZE_CALM_S = (20.0, 10.0)
"""No poller is killed this long before and after an oversize answer is asked for (real s): a
poll cut short just before it would leave readings only the skipped answer carried again, and
one killed before it sends the dead letter would ask for the window again."""
BROKER_CALM_S = (40.0, 10.0)
"""Nor is the broker restarted this long before and after (roles take a while to reconnect)."""


def _quiet_moments(
    rng: random.Random, start: float, end: float, count: int, busy: Sequence[float]
) -> list[float]:
    """``count`` moments in [start, end], none within ``BROKER_CALM_S`` of a ``busy`` one
    (when such moments can be found)."""
    before, after = BROKER_CALM_S
    moments: list[float] = []
    for _ in range(count):
        candidates = [rng.uniform(start, end) for _ in range(200)]
        quiet = [m for m in candidates if not any(b - after <= m <= b + before for b in busy)]
        moments.append((quiet or candidates)[0])
    return sorted(moments)


def _away_from(moments: Sequence[float], calm: Sequence[float], end: float) -> list[float]:
    """``moments``, each moved out of the spans ``OVERSIZE_CALM_S`` around ``calm`` moments."""
    before, after = OVERSIZE_CALM_S
    moved = []
    for index, moment in enumerate(moments):
        for c in calm:
            if c - before < moment < c + after:
                later = c + after + 1.0 + index
                moment = later if later < end else c - before - 1.0 - index
        moved.append(moment)
    return sorted(moved)


async def _oversize(
    sim: ShareSimulator,
    links: Sequence[_Link],
    moments: Sequence[float],
    rng: random.Random,
    vendor: VendorFaults,
) -> None:
    """The next read of a link's account answers more than a raw record may hold. The link is
    the only one on its stream, so the other site's link does not serve the skipped readings."""
    accounts = Counter(link.account.key for link in links)
    alone = [link for link in links if accounts[link.account.key] == 1]
    for moment in moments:
        await _sleep_until(moment)
        link = rng.choice(alone)
        sim.inflate_next_reads(link.account.username, MAX_VENDOR_ANSWER_BYTES + 4096)
        vendor.oversize_requested += 1


async def _revise(
    sim: ShareSimulator,
    links: Sequence[_Link],
    moments: Sequence[float],
    rng: random.Random,
    vendor: VendorFaults,
) -> None:
    """The vendor corrects a reading it served a poll ago: the next poll's overlap carries it
    again with its new value. The first revision is on the stream that two links read."""
    for index, moment in enumerate(moments):
        await _sleep_until(moment)
        link = links[0] if index == 0 else rng.choice(links)
        username = link.account.username
        trace = sim.service.trace(username)
        time_ms = trace.latest_grid_time(sim.clock.now_ms()) - READING_INTERVAL_MS
        while not trace.has_reading(time_ms) or time_ms in sim.service.revisions(username):
            time_ms -= READING_INTERVAL_MS
        old = trace.reading(time_ms).mgdl
        step = rng.randint(8, 30) * (1 if old < (LOWEST_MGDL + HIGHEST_MGDL) / 2 else -1)
        sim.revise_reading(username, time_ms, old + step)
        vendor.revisions_made += 1


async def _garbled(
    bootstrap: str,
    topic: str,
    links: Sequence[_Link],
    moments: Sequence[float],
    rng: random.Random,
    clock: WallAnchoredClock,
    lock: asyncio.Lock,
    chaos: _Chaos,
) -> None:
    serde = make_serde("raw_payload", subject=f"{topic}-value")
    for index, moment in enumerate(sorted(moments)):
        await _sleep_until(moment)
        link = rng.choice(links)
        if index % 2 == 0:
            value = b"garbled:" + rng.randbytes(24)
            kind, dead_letter = "not Avro", ("decode", value)
        else:
            now = clock.now_ms()
            payload = RawPayload(
                link_id=link.link_id,
                vendor=VENDOR,
                endpoint=READ_GLUCOSE,
                fetched_at_ms=now,
                http_status=200,
                body=b'[{"WT":"Date(' + str(now).encode() + b")",  # cut off: not JSON
                poller_version=app_version(),
                request_params={"stream": stream_digest(link.account.account_id)},
                window_start_ms=now - DAY_MS,
                window_end_ms=now,
            )
            value = serde.encode(payload.to_avro())
            kind, dead_letter = "body not JSON", ("transform", payload.body)
        async with lock:
            producer = kafka_producer(bootstrap, acks="all", enable_idempotence=True)
            await producer.start()
            try:
                sent = await producer.send_and_wait(topic, value, key=link.link_id.encode())
            finally:
                await producer.stop()
        stage, original = dead_letter
        chaos.garbled.append(_Garbled(kind, stage, sent.partition, sent.offset, original))


async def _progress(
    clock: WallAnchoredClock, start_ms: int, roles: Sequence[RoleProcess], say: Say
) -> None:
    began = time.monotonic()
    while True:
        await asyncio.sleep(30)
        kills = ", ".join(f"{r.name} {r.kills}" for r in roles)
        hours = (clock.now_ms() - start_ms) / HOUR_MS
        say(f"  {time.monotonic() - began:4.0f} s: simulated {hours:4.1f} h; kills {kills}")


async def _wait_for(
    condition: Callable[[], Awaitable[bool]], *, within: float, what: str, interval: float = 0.5
) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def _background(*coroutines: Awaitable[None]) -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _Run:
    """One fault run's state, from the first polls to the figures."""

    def __init__(
        self,
        config: FaultRunConfig,
        report: FaultRunReport,
        *,
        bootstrap: str,
        restart_broker: BrokerRestart,
        sim: ShareSimulator,
        sites: dict[str, NightscoutAdmin],
        roles: dict[str, RoleProcess],
        links: list[_Link],
        clock: WallAnchoredClock,
        say: Say,
    ) -> None:
        self.config = config
        self.report = report
        self.bootstrap = bootstrap
        self.restart_broker = restart_broker
        self.sim = sim
        self.sites = sites
        self.roles = roles
        self.links = links
        self.clock = clock
        self.say = say
        self.names = TopicNames(report.prefix)
        self.raw_topic = self.names.raw(VENDOR)
        self.chaos = _Chaos()
        self.first_reads: dict[str, ReadRequest] = {}
        self._served: dict[str, ServedReadings] = {}
        self._revised_and_served: dict[str, set[int]] = {}
        self.last_reads: dict[str, ReadRequest] = {}

    async def _until_a_site_failed_a_write(self) -> None:
        """On a busy machine the sinks can spend the whole fault window restarting: keep the
        Nightscout faults on until at least one write met one (or a minute went by)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for site in self.sites.values():
                if any(int(count) for count in (await site.stats())["faults"].values()):
                    return
            await asyncio.sleep(0.5)
        self.say("no Nightscout write met a fault in the fault window or a minute after it")

    def _rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.config.seed}:{purpose}")

    async def execute(self, began: float) -> None:
        config = self.config
        # From the first writes on: the first windows are most of the writes, and the fault
        # window's own writes can be few when a slow broker restart takes much of it.
        for site in self.sites.values():
            await site.set_faults(
                {
                    "error_rate": config.ns_error_rate,
                    "hang_rate": config.ns_hang_rate,
                    "hang_seconds": config.ns_hang_seconds,
                    "after_write_rate": config.ns_after_write_rate,
                    "seed": config.seed,
                }
            )
        await self._first_polls()
        self.report.start_s = time.monotonic() - began
        began = time.monotonic()
        await self._fault_window()
        self.report.fault_window_s = time.monotonic() - began
        await self._until_a_site_failed_a_write()
        for site in self.sites.values():
            await site.clear_faults()
        self.say("faults over: a clean poll of every link, then the pollers stop")
        began = time.monotonic()
        await self._final_polls()
        self.report.final_polls_s = time.monotonic() - began
        began = time.monotonic()
        await self._settle()
        self.report.settle_s = time.monotonic() - began
        await self._compare()

    async def _first_polls(self) -> None:
        """Every link's first window is in Kafka (it has a cursor) before any fault."""
        wanted = {link.link_id.encode() for link in self.links}

        async def all_polled() -> bool:
            return wanted <= set(await read_latest(self.bootstrap, self.names.cursors))

        await _wait_for(
            all_polled,
            within=self.config.first_polls_timeout_s,
            what="every link's first poll",
            interval=1.0,
        )
        keys = {link.account.key for link in self.links}
        for read in self.sim.service.read_log:
            if read.account_key in keys and read.account_key not in self.first_reads:
                self.first_reads[read.account_key] = read
        self.say("every link has polled once; faults begin")

    async def _fault_window(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        start = loop.time()
        end_of_day = self.clock.start_ms + int(config.simulated_hours * HOUR_MS)
        end = start + (self.clock.wall_ms_at(end_of_day) - wall_clock_ms()) / 1000
        width = end - start
        if width < 10:
            raise ValueError(f"only {width:.1f} s of faults at this speed: lower the speed")
        chaos = self.chaos
        broker_lock = asyncio.Lock()
        tasks: list[Awaitable[None]] = []
        restarts = _slots(
            self._rng("broker"), start + 0.25 * width, end - 0.25 * width, config.broker_restarts
        )
        tasks.append(_restart_broker(restarts, self.restart_broker, broker_lock, chaos, self.say))
        late = end - 0.1 * width
        oversize = _quiet_moments(
            self._rng("oversize"), start + 0.1 * width, late, config.oversize_answers, restarts
        )
        tasks.append(_oversize(self.sim, self.links, oversize, self._rng("oversize"), chaos.vendor))
        for name in ROLES:
            rng = self._rng(f"kill:{name}")
            moments = _slots(rng, start, end, config.kills_per_role)
            if name in POLLERS:
                moments = _away_from(moments, oversize, end)
            tasks.append(_kill_role(self.roles[name], moments, rng, config))
        for name in PAUSED_ROLES:
            moment = self._rng(f"pause:{name}").uniform(start, end - config.pause_seconds)
            tasks.append(_pause_role(self.roles[name], moment, config.pause_seconds, self.say))
        rng = self._rng("vendor")
        events = max(
            len(VENDOR_FAULTS), round(config.simulated_hours * 3600 / config.vendor_every_s)
        )
        tasks.append(_vendor_faults(self.sim, rng, _slots(rng, start, end, events), chaos.vendor))
        rng = self._rng("bad")
        malformed = [rng.uniform(start, late) for _ in range(config.malformed_readings)]
        tasks.append(_malformed(self.sim, self.links, malformed, rng, chaos.vendor))
        revisions = sorted(rng.uniform(start, late) for _ in range(config.revised_readings))
        tasks.append(_revise(self.sim, self.links, revisions, rng, chaos.vendor))
        garbled = [rng.uniform(start, late) for _ in range(config.garbled_raw_records)]
        tasks.append(
            _garbled(
                self.bootstrap,
                self.raw_topic,
                self.links,
                garbled,
                rng,
                self.clock,
                broker_lock,
                chaos,
            )
        )
        progress = _progress(self.clock, self.clock.start_ms, list(self.roles.values()), self.say)
        async with _background(progress):
            running = [asyncio.ensure_future(task) for task in tasks]
            try:
                await asyncio.gather(*running)
            finally:
                for task in running:
                    task.cancel()

    async def _final_polls(self) -> None:
        """Two more successful reads of every link, then a clean stop of the pollers."""
        counters = {
            link.account.key: self.sim.counters_for(link.account.username).reads
            for link in self.links
        }

        async def polled_twice() -> bool:
            return self.sim.knobs.pending_failures() == 0 and all(
                self.sim.counters_for(link.account.username).reads >= counters[link.account.key] + 2
                for link in self.links
            )

        await _wait_for(
            polled_twice,
            within=self.config.final_polls_timeout_s,
            what="two clean polls of every link",
        )
        # A read counts only once the rejected-read queue is empty, and no fault is added any
        # more: from here on, every read the log ties to an account was answered with data.
        for name in POLLERS:
            async with self.roles[name].lock:
                self.report.poller_exit_codes[name] = await self.roles[name].stop()
        keys = {link.account.key for link in self.links}
        for read in reversed(self.sim.service.read_log):
            if read.account_key in keys and read.account_key not in self.last_reads:
                self.last_reads[read.account_key] = read

    async def _settle(self) -> None:
        raw = [self.raw_topic]
        processor_group = f"{self.report.prefix}-processor"
        quiet_checks = 0

        async def settled() -> bool:
            nonlocal quiet_checks
            processor = await group_lag(self.bootstrap, processor_group, raw)
            sink = await sink_backlog(self.bootstrap, self.report.prefix)
            quiet_checks = quiet_checks + 1 if processor == 0 and sink == 0 else 0
            return quiet_checks >= 3

        self.say("waiting for the processor and the sink to commit everything")
        await _wait_for(
            settled,
            within=self.config.settle_timeout_s,
            what="processor and sink lag 0",
            interval=2.0,
        )

    async def _compare(self) -> None:
        report = self.report
        self._served = {
            link.account.key: ServedReadings(self.sim.service, link.account.username)
            for link in self.links
        }
        for served in self._served.values():
            self._revised_and_served[served.account.key] = served.revisions_served()
        report.revisions_served = sum(len(v) for v in self._revised_and_served.values())
        report.oversize_served = sum(len(s.oversize) for s in self._served.values())
        versions = await self._entry_versions()
        report.versions_changed = sum(1 for v in versions.values() if len(v.contents) > 1)
        for name, site in self.sites.items():
            report.other_documents += len(await site.documents("treatments")) + len(
                await site.documents("devicestatus")
            )
            stats = await site.stats()
            for kind, count in stats["faults"].items():
                report.ns_faults[str(kind)] = report.ns_faults.get(str(kind), 0) + int(count)
            report.ns_puts += sum(
                int(r["count"]) for r in stats["requests"] if r["method"] == "PUT"
            )
            entries = await site.documents("entries")
            self._compare_entries(name, entries)
            report.stale += self._stale(entries, versions)
        await self._compare_dlq()
        history = await status_history(self.bootstrap, self.names.link_status)
        deaths = {name: self.roles[name].deaths_ms for name in POLLERS}
        report.ownership = judge_ownership(history, deaths)
        report.problems += report.ownership.examples
        vendor = self.chaos.vendor
        vendor.transport_failures_served = self.sim.knobs.injected_total
        accounts = {link.account.key: link.account for link in self.links}
        all_counters = [self.sim.counters_for(a.username) for a in accounts.values()]
        vendor.logins = sum(c.sessions_issued for c in all_counters)
        vendor.reads = sum(c.reads for c in all_counters)
        report.vendor = vendor
        report.broker_restarts = len(self.chaos.broker_restart_s)
        report.broker_restart_s = self.chaos.broker_restart_s

    async def _entry_versions(self) -> dict[str, _Versions]:
        """Per identifier on ``ns.entries``: the highest version's document, every content."""
        topic = self.names.ns(Collection.ENTRIES)
        serde = make_serde("entry", subject=f"{topic}-value")
        versions: dict[str, _Versions] = {}
        for record in await read_records(self.bootstrap, topic):
            if record.key is None or record.value is None:
                continue
            ns = from_avro(Collection.ENTRIES, serde.decode(record.value, topic=topic))
            seen = versions.setdefault(record.key.decode(), _Versions())
            seen.contents.add(canonical_json(ns.document))
            version = ns.version if ns.version is not None else -1
            if version >= seen.version:
                seen.version, seen.latest = version, ns.document
        return versions

    def _stale(self, entries: list[dict[str, Any]], versions: Mapping[str, _Versions]) -> int:
        """Documents whose content in Nightscout differs from their latest version in Kafka
        (the highest ``version``, whatever the offsets)."""
        stale = 0
        for doc in entries:
            seen = versions.get(str(doc.get("identifier")))
            if seen is not None and any(doc.get(k) != v for k, v in seen.latest.items()):
                stale += 1
                if len(self.report.problems) < 20:
                    self.report.problems.append(f"stale: {doc.get('identifier')}")
        return stale

    def _expected_dates(self, link: _Link) -> list[int]:
        """Each reading from the link's first window to its last read, oldest first, but those
        that only an oversize answer carried (``bench/fault_served.py``)."""
        key = link.account.key
        first, last = self.first_reads.get(key), self.last_reads.get(key)
        if first is None or last is None:
            self.report.problems.append(f"{link.link_id}: no successful read on record")
            return []
        trace = self.sim.service.trace(link.account.username)
        window = trace.readings(
            first.at_ms,
            minutes=int(first.minutes or 0),
            max_count=int(first.max_count or 0),
            history_ms=self.sim.service.history_ms,
        )
        oldest = min(r.time_ms for r in window)
        newest = trace.latest_grid_time(last.at_ms)
        skipped = self._served[key].only_in_oversize()
        self.report.skipped_by_oversize += len(skipped)
        return [
            t
            for t in range(oldest, newest + 1, READING_INTERVAL_MS)
            if trace.has_reading(t) and t not in skipped
        ]

    def _compare_entries(self, site: str, entries: list[dict[str, Any]]) -> None:
        """The site holds each reading of the streams routed to it once, and nothing else."""
        report = self.report
        identifiers = Counter(str(d.get("identifier")) for d in entries)
        readings = Counter((str(d.get("device")), d.get("date")) for d in entries)
        report.duplicate_identifiers += sum(n - 1 for n in identifiers.values() if n > 1)
        report.duplicate_readings += sum(n - 1 for n in readings.values() if n > 1)
        for (device, date), n in readings.items():
            if n > 1 and len(report.problems) < 20:
                report.problems.append(f"{site}: {n} documents for {device} at {date}")
        valid = [d for d in entries if d.get("isValid") is not False]
        report.held_entries += len(valid)
        report.held_by_site[site] = len(valid)
        held: dict[str, dict[int, dict[str, Any]]] = {}
        for doc in valid:
            held.setdefault(str(doc.get("device")), {})[int(doc.get("date", 0))] = doc
        # One link per stream routed here: several links on one stream bring the same documents.
        routed = {link.device: link for link in self.links if site in link.targets}
        report.unexpected_entries += sum(len(v) for d, v in held.items() if d not in routed)
        for link in routed.values():
            expected = self._expected_dates(link)
            report.expected_entries += len(expected)
            mine = held.get(link.device, {})
            served = self._served[link.account.key]
            revised = self._revised_and_served[link.account.key]
            missing = [t for t in expected if t not in mine]
            unexpected = sorted(set(mine) - set(expected))
            wrong = [
                t
                for t in expected
                if t in mine and not _content_ok(mine[t], link, served.latest(t, revised))
            ]
            report.missing += len(missing)
            report.unexpected_entries += len(unexpected)
            report.wrong_content += len(wrong)
            for label, dates in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("wrong", wrong),
            ):
                if dates and len(report.problems) < 20:
                    shown = ", ".join(str(t) for t in dates[:5])
                    report.problems.append(f"{site} {link.link_id}: {len(dates)} {label}: {shown}")

    def _expected_letters(
        self, raw_records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> dict[_LetterKey, str]:
        """The bad records on the raw topic, each element checked against the simulator's own
        renderings, plus a reference to each oversize answer served."""
        raw_serde = make_serde("raw_payload", subject=f"{self.raw_topic}-value")
        by_link = {link.link_id: link for link in self.links}
        expected: dict[_LetterKey, str] = {}
        # (account, reading time) -> which renderings of a revised reading came (0: the first).
        revised_values: dict[tuple[str, int], set[int]] = {}
        for record in raw_records:
            where = (record.partition, record.offset)
            try:
                decoded = raw_serde.decode(
                    record.value or b"", topic=self.raw_topic, partition=where[0], offset=where[1]
                )
                raw = RawPayload.from_avro(decoded)
            except (RecordDecodeError, TypeError):
                expected[("decode", *where, record.value or b"")] = "not Avro"
                continue
            try:
                body = json.loads(raw.body)
            except ValueError:
                expected[("transform", *where, raw.body)] = "body not JSON"
                continue
            link = by_link.get(raw.link_id)
            if not isinstance(body, list) or link is None:
                expected[("transform", *where, raw.body)] = "body not a reading list"
                continue
            served = self._served[link.account.key]
            for element in body:
                rendering = _rendering(element, served)
                if rendering is None:
                    expected[("transform", *where, compact_json(element))] = "malformed reading"
                elif rendering[0] in served.revisions:
                    revised_values.setdefault((link.account.key, rendering[0]), set()).add(
                        rendering[1]
                    )
        self.report.revisions_both_in_raw = sum(1 for v in revised_values.values() if len(v) > 1)
        for link in self.links:
            for answer in self._served[link.account.key].oversize:
                expected[_oversize_key(link.link_id, answer.sha256, answer.size)] = "oversize"
        return expected

    async def _compare_dlq(self) -> None:
        """Bad records on the raw topic, found independently, against the DLQ's letters."""
        report = self.report
        expected = self._expected_letters(await read_records(self.bootstrap, self.raw_topic))
        dlq_serde = make_serde("dead_letter", subject=f"{self.names.dlq}-value")
        letters = await read_records(self.bootstrap, self.names.dlq)
        found: set[_LetterKey] = set()
        for record in letters:
            letter = DeadLetter.from_avro(
                dlq_serde.decode(record.value or b"", topic=self.names.dlq)
            )
            found.add(_letter_key(letter, self.raw_topic))
            if letter.source_topic != self.raw_topic and len(report.problems) < 20:
                report.problems.append(f"DLQ letter from {letter.source_topic}: {letter.reason}")
        report.dlq_expected = len(expected)
        report.dlq_expected_by_kind = dict(Counter(expected.values()))
        report.dlq_found = len(found)
        report.dlq_letters = len(letters)
        report.dlq_missing = len(set(expected) - found)
        report.dlq_unexpected = len(found - set(expected))
        for stage, partition, offset, original in sorted(found - set(expected))[:5]:
            report.problems.append(
                f"unexpected DLQ letter ({stage}) for raw {partition}@{offset}: {original[:80]!r}"
            )
        for stage, _, _, original in sorted(set(expected) - found)[:5]:
            report.problems.append(f"no DLQ letter ({stage}) for {original[:80]!r}")
        report.garbled_produced = len(self.chaos.garbled)
        report.garbled_in_dlq = sum(
            1 for g in self.chaos.garbled if (g.stage, g.partition, g.offset, g.original) in found
        )


@dataclass
class _Versions:
    """One identifier's versions on ``ns.entries``."""

    version: int = -2
    latest: dict[str, Any] = field(default_factory=dict)
    contents: set[str] = field(default_factory=set)


_LetterKey = tuple[str, int, int, bytes]
"""(stage, raw partition, raw offset, original value); for an oversize answer (stage ``poll``,
no raw record) the last member names the link, the answer's SHA-256 and its size."""


def _oversize_key(link_id: str, sha256: str, size: int) -> _LetterKey:
    return (OVERSIZE_STAGE, -1, -1, f"{link_id} {sha256} {size}".encode())


def _letter_key(letter: DeadLetter, raw_topic: str) -> _LetterKey:
    if letter.stage == OVERSIZE_STAGE and letter.source_topic == raw_topic:
        try:
            reference = json.loads(letter.original_value)
            return _oversize_key(
                str(reference["link_id"]), str(reference["sha256"]), int(reference["size"])
            )
        except (ValueError, KeyError, TypeError):
            pass  # not a reference: compared as it is, so it shows as unexpected
    stage = letter.stage if letter.source_topic == raw_topic else f"{letter.stage}?"
    return (
        stage,
        letter.source_partition if letter.source_partition is not None else -1,
        letter.source_offset if letter.source_offset is not None else -1,
        letter.original_value,
    )


def _rendering(element: object, served: ServedReadings) -> tuple[int, int] | None:
    """When ``element`` is exactly how the simulator renders its reading at that time, that
    time and which rendering (0: as first served, 1: as revised); else None."""
    if not isinstance(element, dict):
        return None
    match = _CURRENT_DATE.fullmatch(str(element.get("WT", "")).strip("/"))
    if match is None:
        return None
    time_ms = int(match.group(1))
    renderings = served.renderings(time_ms)
    return (time_ms, renderings.index(element)) if element in renderings else None


def _content_ok(doc: dict[str, Any], link: _Link, reading: Reading) -> bool:
    return (
        doc.get("type") == "sgv"
        and doc.get("sgv") == reading.mgdl
        and doc.get("direction") == reading.trend
        and doc.get("utcOffset") == link.account.utc_offset_minutes
        and doc.get("identifier") == entry_identifier(link.device, reading.time_ms, "sgv")
    )


async def fault_run(
    config: FaultRunConfig,
    *,
    bootstrap: str,
    restart_broker: BrokerRestart,
    workdir: Path,
    say: Say = _quiet,
) -> FaultRunReport:
    """Run the pipeline through ``config``'s faults; compare what landed with what was made.

    ``restart_broker`` stops the broker at ``bootstrap`` and starts it again on the same port
    with the same data. Role logs go to ``workdir``.
    """
    began = time.monotonic()
    report = FaultRunReport(config, prefix=unique_prefix("fault"))
    await ensure_topics(bootstrap, topic_catalog(report.prefix, partitions=PARTITIONS))
    duration_ms = int(config.simulated_hours * HOUR_MS)
    anchor_ms = wall_clock_ms()
    # The simulated day ends about an hour before the real now: no date lies in the future.
    clock = WallAnchoredClock(config.speed, anchor_ms - duration_ms - HOUR_MS, anchor_ms)
    accounts = generate_accounts(config.links, seed=config.seed)
    links = _links(accounts)
    servers = {name: TestServerProcess(workdir).start() for name in (HOME, CLINIC)}
    roles: dict[str, RoleProcess] = {}
    try:
        async with ShareSimulator(accounts, clock=clock, seed=config.seed) as sim:
            config_file, links_file = _write_configs(
                workdir,
                bootstrap=bootstrap,
                prefix=report.prefix,
                sites=servers,
                sink_timeout=config.sink_timeout_seconds,
                links=links,
                sim=sim,
            )
            # Only the pollers and the import decrypt the links' credentials.
            poller_env = {**child_env(), KEY_ENV: new_key()}
            await _import_links(links_file, poller_env, workdir)
            roles = _roles(config_file, clock, workdir, poller_env)
            for role in roles.values():
                role.start()
            say(f"pipeline {report.prefix}: {config.links} links, logs in {workdir}")
            run = _Run(
                config,
                report,
                bootstrap=bootstrap,
                restart_broker=restart_broker,
                sim=sim,
                sites={name: NightscoutAdmin(server) for name, server in servers.items()},
                roles=roles,
                links=links,
                clock=clock,
                say=say,
            )
            async with _background(_watch(list(roles.values()), say)):
                try:
                    await run.execute(began)
                except TimeoutError as exc:
                    tails = "\n".join(f"--- {r.name}.log:\n{r.tail()}" for r in roles.values())
                    raise TimeoutError(f"{exc}; logs in {workdir}\n{tails}") from exc
    finally:
        for role in roles.values():
            await role.stop()
        for server in servers.values():
            server.stop()
    report.kills = {name: role.kills for name, role in roles.items()}
    report.pauses = {name: role.pauses for name, role in roles.items() if role.pauses}
    report.unplanned_exits = {name: role.unplanned_exits for name, role in roles.items()}
    report.wall_s = time.monotonic() - began
    return report


def _roles(
    config_file: Path, clock: WallAnchoredClock, workdir: Path, poller_env: dict[str, str]
) -> dict[str, RoleProcess]:
    env = child_env()
    cli = [sys.executable, "-m", "nightstream.cli"]
    poller = [
        sys.executable,
        "-m",
        "bench.fault_poller",
        "--config",
        str(config_file),
        "--speed",
        repr(clock.speed),
        "--start-ms",
        str(clock.start_ms),
        "--anchor-ms",
        str(clock.anchor_ms),
    ]
    processor = [*cli, "process", "--config", str(config_file)]
    sink = [*cli, "sink", "--config", str(config_file)]
    roles = {
        name: RoleProcess(name, [*poller, "--instance-id", name], workdir, poller_env)
        for name in POLLERS
    }
    argv = {"processor": processor, "sink": sink}
    for name in ROLES:
        if name not in POLLERS:
            roles[name] = RoleProcess(name, argv[name.split("-")[0]], workdir, env)
    return roles


# -- the benchmark script ---------------------------------------------------------------------


async def _bench(arguments: argparse.Namespace) -> int:
    config = FaultRunConfig(
        links=arguments.links,
        simulated_hours=arguments.hours,
        speed=arguments.speed,
        kills_per_role=arguments.kills,
        broker_restarts=arguments.broker_restarts,
        seed=arguments.seed,
        settle_timeout_s=arguments.settle_timeout,
    )
    # SIGTERM ends the run as Ctrl-C does: the roles, the test server and the broker stop.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    workdir = Path(tempfile.mkdtemp(prefix="bench-fault-"))
    kafka = LocalKafka(workdir / "kafka")
    bootstrap = await kafka.start()
    print(f"started a broker on {bootstrap}", file=sys.stderr)
    logs = workdir / "logs"
    logs.mkdir()
    try:
        report = await fault_run(
            config,
            bootstrap=bootstrap,
            restart_broker=kafka.restart,
            workdir=logs,
            say=lambda line: print(line, flush=True),
        )
    finally:
        await kafka.stop()
    print()
    print(f"Fault run ({report.prefix}):")
    print(table(report.rows()))
    for problem in report.problems:
        print(f"  ! {problem}")
    path = write_results(arguments.results, {"machine": machine(), **report.to_json()})
    print(f"\nresults written to {path}")
    if report.ok and not arguments.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs kept in {logs}")
    return 0 if report.ok else 1


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fault_run")
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    parser.add_argument("--speed", type=float, default=144.0, help="simulated s per real s")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of each role")
    parser.add_argument("--broker-restarts", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--settle-timeout", type=float, default=900.0, help="seconds to wait for lag 0 at the end"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs even when all is well")
    parser.add_argument(
        "--results", default="fault_run", help="name of the results file in bench/results"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_bench(parse_arguments(argv)))


if __name__ == "__main__":
    sys.exit(main())

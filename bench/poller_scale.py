"""One poller process serving 10,000 Dexcom Share links and 1,000 LibreLinkUp links.

    .venv/bin/python -m bench.poller_scale [--dexcom 10000] [--llu 1000] [--speed 4]
        [--steady-cycles 2] [--bootstrap HOST:PORT] [--profile-seconds 20]

Both simulators run in processes of their own (``bench/scale_simulator.py``) on the clock the
poller uses: simulated time runs ``--speed`` times faster than real time, anchored to the wall
clock, so a 5-minute Dexcom cycle passes in 300 / speed real seconds. The poller runs in this
process, built by ``build_poller`` from a TOML file as ``nightstream poll`` builds it, with the
default host budget (stated in vendor time, so its real-time rate is multiplied by the speed).

Phases, in simulated time from the poller's start: **cold** (every link's first poll: logins and
24 h / 12 h windows; spread over one interval, longer when the simulators cannot keep up), then,
from 40 s after the last first poll (and at least one Dexcom interval after the start),
**steady** (``--steady-cycles`` Dexcom intervals, 5 min each) in which everything below
"steady" is measured. Then the poller stops and
an **idle** poller (the same links, dry run, on a clock that stands still so that no link falls
due) runs ``--idle-seconds`` to show what links cost between polls.

Figures: RSS per link (process RSS after the steady phase minus before any link was built, over
the links), start to every link scheduled (config loaded, clients built, cursors read, producer
started, every link in the heap), poll start lateness (start minus due, simulated seconds, p50,
p99, max per phase), vendor requests per link per cycle and requests per second per host
(simulated time) in the steady phase, poller CPU per link per simulated minute (``process_time``
of this process over the steady phase), and idle CPU. With ``--profile-seconds`` py-spy samples
this process during the steady phase; the top functions by own time go to the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    child_env,
    kafka_broker,
    machine,
    table,
    unique_prefix,
    write_results,
)
from bench.fault_poller import WallAnchoredClock
from nightstream.config import Settings, load_settings
from nightstream.roles import build_poller
from nightstream.schemas.topics import topic_catalog
from nightstream.simulators.dexcomshare import generate_accounts as share_accounts
from nightstream.simulators.librelinkup import generate_accounts as llu_accounts
from nightstream.sources.http_pools import DEFAULT_BUDGET, HostBudget, SharedPools
from nightstream.sources.runner import PollerOptions
from nightstream.sources.simclock import ManualClock, wall_clock_ms
from nightstream.topics_admin import ensure_topics

START_MS = 1_790_000_000_000
DEXCOM_INTERVAL_S = 300.0
LLU_INTERVAL_S = 60.0
COLD_MARGIN_S = 40.0
"""Simulated seconds after every link's first poll (and at least one Dexcom interval after the
start) before the steady phase starts; ``--settle-s`` adds to it."""
SEED = 1


@dataclass
class Lateness:
    """Every poll start: how late it was (simulated ms), split by phase and vendor."""

    steady_from_ms: int = 2**62
    cold: list[int] = field(default_factory=list)
    steady: list[int] = field(default_factory=list)
    polls: Counter[str] = field(default_factory=Counter)
    polled: set[str] = field(default_factory=set)

    def poll_started(self, link_id: str, due_ms: int, now_ms: int) -> None:
        self.polled.add(link_id)
        phase = "steady" if due_ms >= self.steady_from_ms else "cold"
        (self.steady if phase == "steady" else self.cold).append(now_ms - due_ms)
        self.polls[f"{phase}:{link_id[0]}"] += 1


class BudgetWaits:
    """How long each vendor request waited for its host budget (real seconds), by phase."""

    def __init__(self) -> None:
        self.phase = "cold"
        self.samples: dict[tuple[str, str], list[float]] = {}

    def waited(self, vendor: str, seconds: float) -> None:
        self.samples.setdefault((self.phase, vendor), []).append(seconds)


def wait_figures(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "requests": len(ordered),
        "p50_s": round(ordered[len(ordered) // 2], 4),
        "p99_s": round(ordered[min(int(0.99 * len(ordered)), len(ordered) - 1)], 4),
        "max_s": round(ordered[-1], 4),
        "over_100ms": sum(1 for s in ordered if s > 0.1),
    }


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentiles(samples: Sequence[int], speed: float) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] / 1000

    return {
        "polls": len(ordered),
        "p50_s": at(0.5),
        "p99_s": at(0.99),
        "max_s": ordered[-1] / 1000,
        "p99_real_s": at(0.99) / speed,
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


class Simulator:
    def __init__(self, vendor: str, accounts: int, clock: WallAnchoredClock) -> None:
        args = [
            "-m",
            "bench.scale_simulator",
            f"--vendor={vendor}",
            f"--accounts={accounts}",
            f"--seed={SEED}",
            f"--speed={clock.speed}",
            f"--start-ms={clock.start_ms}",
            f"--anchor-ms={clock.anchor_ms}",
        ]
        self.process = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, text=True, env=child_env(), cwd=REPO
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {vendor} simulator did not start")
        self.url: str = json.loads(line)["url"]

    def stop(self) -> dict[str, int]:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=60)
        lines = out.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}


def write_config(path: Path, prefix: str, bootstrap: str, dexcom: Simulator, llu: Simulator,
                 counts: tuple[int, int]) -> None:  # fmt: skip
    lines = [
        'log_level = "WARNING"',
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        f'topic_prefix = "{prefix}"',
        "partitions = 6",
        "[targets.ns]",
        'url = "http://127.0.0.1:9"',
        'token = "bench"',
    ]
    for n, account in enumerate(share_accounts(counts[0], SEED)):
        lines += _link(f"d{n:05d}", "dexcomshare", account.username, account.password)
        lines += ['region = "us"', f'server_url = "{dexcom.url}/us"']
    for n, follower in enumerate(llu_accounts(counts[1], SEED)):
        lines += _link(f"l{n:05d}", "librelinkup", follower.email, follower.password)
        lines += [
            f'region = "{follower.region}"',
            f'server_url = "{llu.url}/{{region}}"',
            f'patient_id = "{follower.patients[0].patient_id}"',
            f"poll_interval_seconds = {LLU_INTERVAL_S}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _link(link_id: str, vendor: str, username: str, password: str) -> list[str]:
    return [
        "[[links]]",
        f'id = "{link_id}"',
        f'vendor = "{vendor}"',
        f'username = "{username}"',
        f'password = "{password}"',
        'targets = ["ns"]',
    ]


async def sleep_until_sim(clock: WallAnchoredClock, sim_ms: int) -> None:
    await asyncio.sleep(max(clock.wall_ms_at(sim_ms) - wall_clock_ms(), 0) / 1000)


def profile(seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy not found: no profile", file=sys.stderr)
        return None
    command = [spy, "record", "-p", str(os.getpid()), "-d", str(seconds), "-r", "50"]
    command += ["-f", "raw", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_functions(raw: Path, count: int = 15) -> list[tuple[str, float]]:
    """Own-time share of the functions py-spy saw on top of the stack, largest first."""
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        leaf = stack.split(";")[-1]
        leaf = re.sub(r" \(/[^)]*/(site-packages|python3\.\d+|wt-[^/]+)/", " (", leaf)
        own[leaf] += int(samples)
        total += int(samples)
    return [(name, round(100 * n / total, 1)) for name, n in own.most_common(count)]


async def idle_cpu(settings: Settings, seconds: float) -> dict[str, float]:
    """CPU of a poller whose links are all scheduled and none due: its clock stands still and
    counts as a million times slower than real time, so every wait outlasts the measurement."""
    clock = ManualClock(START_MS + 7)
    # First polls spread over a whole interval (the CPU pace is never reached): on this clock,
    # a hundred years.
    options = PollerOptions(dry_run=True, clock_speed=1e-6, first_polls_per_second=1e-9)
    poller = build_poller(settings, options, clock=clock.now_ms)
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(2.0)
    started = time.process_time()
    await asyncio.sleep(seconds)
    used = time.process_time() - started
    polled = sum(s.polls for s in poller.status.values())
    stop.set()
    await running
    links = len(poller.status)
    return {
        "links": links,
        "seconds": seconds,
        "polls_during": polled,
        "cpu_s": round(used, 4),
        "cpu_s_per_link_per_minute": used / links / (seconds / 60),
    }


async def run(arguments: argparse.Namespace) -> dict[str, Any]:
    speed: float = arguments.speed
    counts = (arguments.dexcom, arguments.llu)
    links = sum(counts)
    prefix = unique_prefix("scale")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
    ):
        await ensure_topics(bootstrap, topic_catalog(prefix, partitions=6))
        clock = WallAnchoredClock(speed, START_MS, wall_clock_ms() + 2_000)
        dexcom = Simulator("dexcomshare", counts[0], clock)
        llu = Simulator("librelinkup", counts[1], clock)
        try:
            config = Path(tmp) / "nightstream.toml"
            write_config(config, prefix, bootstrap, dexcom, llu, counts)
            await sleep_until_sim(clock, START_MS)
            rss_before = rss_kib()
            started = time.monotonic()
            settings = load_settings({}, config)
            config_s = time.monotonic() - started
            budgets = {
                "dexcomshare": HostBudget(arguments.dexcom_budget * speed, arguments.max_in_flight),
                "librelinkup": HostBudget(arguments.llu_budget * speed, arguments.max_in_flight),
            }
            waits = BudgetWaits()
            pools = SharedPools(vendor_budgets=budgets, budget_waited=waits.waited)
            options = PollerOptions(clock_speed=speed)
            poller = build_poller(settings, options, clock=clock.now_ms, pools=pools)
            built_s = time.monotonic() - started
            rss_built = rss_kib()
            lateness = Lateness()
            poller.observer = lateness
            stop = asyncio.Event()
            run_started_sim = clock.now_ms()
            running = asyncio.create_task(poller.run(stop))
            while poller.scheduled_count < links and not running.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            scheduled_s = time.monotonic() - started
            print(f"every link scheduled after {scheduled_s:.2f} s; {uptime()}", file=sys.stderr)

            while len(lateness.polled) < links and not running.done():  # noqa: ASYNC110
                await asyncio.sleep(0.5)
            every_link_polled_sim = clock.now_ms()
            cold_real_s = time.monotonic() - started
            steady_from = max(
                every_link_polled_sim + int((COLD_MARGIN_S + arguments.settle_s) * 1000),
                run_started_sim + int((DEXCOM_INTERVAL_S + COLD_MARGIN_S) * 1000),
            )
            steady_to = steady_from + int(arguments.steady_cycles * DEXCOM_INTERVAL_S * 1000)
            lateness.steady_from_ms = steady_from
            await sleep_until_sim(clock, steady_from)
            waits.phase = "steady"
            cpu_0, requests_0 = time.process_time(), pools.requests_by_host()
            load_steady = uptime()
            spy_out = Path(tmp) / "profile.raw"
            spy = profile(arguments.profile_seconds, spy_out) if arguments.profile_seconds else None
            await sleep_until_sim(clock, steady_to)
            cpu_1, requests_1 = time.process_time(), pools.requests_by_host()
            waits.phase = "after"
            rss_steady = rss_kib()
            load_end = uptime()
            stop.set()
            await running
            if spy is not None:
                spy.wait(timeout=120)
            profile_top = top_functions(spy_out) if spy_out.exists() else []
            idle = await idle_cpu(settings, arguments.idle_seconds)
        finally:
            seen = {"dexcomshare": dexcom.stop(), "librelinkup": llu.stop()}

    steady_s = (steady_to - steady_from) / 1000
    hosts = {"dexcomshare": dexcom.url, "librelinkup": llu.url}
    intervals = {"dexcomshare": DEXCOM_INTERVAL_S, "librelinkup": LLU_INTERVAL_S}
    per_host: dict[str, dict[str, float]] = {}
    for (vendor, url), linked in zip(hosts.items(), counts, strict=True):
        sent = requests_1.get(url, 0) - requests_0.get(url, 0)
        cycles = steady_s / intervals[vendor]
        per_host[vendor] = {
            "requests_steady": sent,
            "requests_per_link_per_cycle": round(sent / linked / cycles, 3),
            "requests_per_second": round(sent / steady_s, 2),
            "budget_requests_per_second": budgets[vendor].requests_per_second / speed,
        }
    cpu_per_link_minute = (cpu_1 - cpu_0) / links / (steady_s / 60)
    states = Counter(str(s.state) for s in poller.status.values())
    return {
        "machine": machine(),
        "links": {"dexcomshare": counts[0], "librelinkup": counts[1]},
        "speed": speed,
        "load": {"at_steady_start": load_steady, "at_steady_end": load_end},
        "config_load_s": round(config_s, 2),
        "build_s": round(built_s, 2),
        "start_to_every_link_scheduled_s": round(scheduled_s, 2),
        "start_to_every_link_polled_s": round(cold_real_s, 2),
        "every_link_polled_after_simulated_s": (every_link_polled_sim - run_started_sim) / 1000,
        "rss_kib": {"before": rss_before, "built": rss_built, "steady_end": rss_steady},
        "rss_per_link_kib_built": round((rss_built - rss_before) / links, 2),
        "rss_per_link_kib": round((rss_steady - rss_before) / links, 2),
        "lateness_cold": percentiles(lateness.cold, speed),
        "lateness_steady": percentiles(lateness.steady, speed),
        "budget_wait_real_s": {
            f"{phase}:{vendor}": wait_figures(samples)
            for (phase, vendor), samples in sorted(waits.samples.items())
        },
        "polls_by_phase_and_vendor": dict(lateness.polls),
        "steady_simulated_s": steady_s,
        "hosts": per_host,
        "cpu_steady_s": round(cpu_1 - cpu_0, 2),
        "cpu_s_per_link_per_minute": round(cpu_per_link_minute, 5),
        "idle": idle,
        "link_states": dict(states),
        "stopped_messages": Counter(s.message for s in poller.status.values() if s.message),
        "retries": sum(s.retries for s in poller.status.values()),
        "simulators_saw": seen,
        "profile_top_own_time_percent": profile_top,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.poller_scale")
    parser.add_argument("--dexcom", type=int, default=10_000)
    parser.add_argument("--llu", type=int, default=1_000)
    parser.add_argument("--speed", type=float, default=2.0)
    parser.add_argument("--steady-cycles", type=float, default=2.0)
    parser.add_argument(
        "--settle-s",
        type=float,
        default=0.0,
        help="more simulated seconds between the last first poll and the steady phase",
    )
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument("--bootstrap")
    parser.add_argument("--name", default="poller_scale")
    parser.add_argument("--max-in-flight", type=int, default=DEFAULT_BUDGET.max_in_flight)
    parser.add_argument(
        "--dexcom-budget",
        type=float,
        default=DEFAULT_BUDGET.requests_per_second,
        help="requests per (simulated) second to the Dexcom host, as [vendors.dexcomshare]",
    )
    parser.add_argument("--llu-budget", type=float, default=DEFAULT_BUDGET.requests_per_second)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_args(argv)
    results = asyncio.run(run(arguments))
    path = write_results(arguments.name, results)
    steady = results["lateness_steady"]
    rows = [
        ("links", f"{results['links']}"),
        ("start to every link scheduled", f"{results['start_to_every_link_scheduled_s']} s"),
        ("RSS per link", f"{results['rss_per_link_kib']} KiB"),
        ("lateness p99 steady", f"{steady.get('p99_s')} s (simulated)"),
        ("CPU per link per minute", f"{results['cpu_s_per_link_per_minute']} CPU-s"),
        ("idle CPU per link per minute", f"{results['idle']['cpu_s_per_link_per_minute']:.2e}"),
        ("hosts", json.dumps(results["hosts"])),
        ("load", results["load"]["at_steady_end"]),
    ]
    print(table(rows))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

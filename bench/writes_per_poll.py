"""Steady state: Nightscout PUTs and ns.entries records per 5-minute poll of one Dexcom account.

    .venv/bin/python -m bench.writes_per_poll [--polls 10] [--bootstrap HOST:PORT]

One simulated Share account (ManualClock), the processor and the sink as subprocesses, the test
server in its own process, the poller in-process. The first poll loads the 24 h window (288
readings); then, --polls times: the clock moves 5 minutes, one poll (which again asks for the
whole 24 h window), wait until processor and sink have committed everything, count.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    Child,
    TestServerProcess,
    kafka_broker,
    machine,
    table,
    unique_prefix,
    wait_until,
    write_results,
)
from nightstream.config import load_settings
from nightstream.kafka_offsets import group_lag, records_in, sink_backlog
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.topics import topic_catalog
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator, generate_accounts
from nightstream.sources.runner import PollerOptions
from nightstream.topics_admin import ensure_topics

READINGS_PER_DAY = 288
FIVE_MINUTES_MS = 5 * 60 * 1000
PARTITIONS = 3


async def main(arguments: argparse.Namespace) -> None:
    prefix = unique_prefix("wpp")
    raw = [f"{prefix}.raw.dexcomshare"]
    entries = f"{prefix}.ns.entries"
    clock = ManualClock(1_790_000_000_000)
    children: list[Child] = []
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-wpp-") as tmp,
    ):
        workdir = Path(tmp)
        server = TestServerProcess(workdir).start()
        try:
            async with ShareSimulator(generate_accounts(1, seed=5), seed=5, clock=clock) as sim:
                account = sim.accounts[0]
                config = workdir / "nightstream.toml"
                config.write_text(
                    "\n".join(
                        [
                            'log_level = "INFO"',
                            "[kafka]",
                            f'bootstrap_servers = "{bootstrap}"',
                            f'topic_prefix = "{prefix}"',
                            f"partitions = {PARTITIONS}",
                            "[targets.ns]",
                            f'url = "{server.url}"',
                            f'token = "{server.token}"',
                            "[[links]]",
                            'id = "p00"',
                            'vendor = "dexcomshare"',
                            f'username = "{account.username}"',
                            f'password = "{account.password}"',
                            f'region = "{account.region}"',
                            f'server_url = "{sim.base_url(account.region)}"',
                            'targets = ["ns"]',
                        ]
                    )
                    + "\n",
                    encoding="utf-8",
                )
                settings = load_settings({}, config)
                await ensure_topics(bootstrap, topic_catalog(prefix, partitions=PARTITIONS))
                for role in ("process", "sink"):
                    children.append(
                        Child.start(
                            role, ["-m", "nightstream.cli", role, "--config", str(config)], workdir
                        )
                    )

                async def poll() -> None:
                    options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
                    poller = build_poller(settings, options, clock=clock.now_ms)
                    await poller.run(asyncio.Event())
                    states = {str(s.state) for s in poller.status.values()}
                    if states != {"done"}:
                        raise RuntimeError(f"poll did not finish: {poller.status}")

                async def settled(puts_at_least: int) -> bool:
                    for child in children:
                        if child.process.poll() is not None:
                            raise RuntimeError(f"{child.name} exited:\n{child.tail()}")
                    if await group_lag(bootstrap, f"{prefix}-processor", raw):
                        return False
                    if await sink_backlog(bootstrap, prefix):
                        return False
                    return await server.put_count() >= puts_at_least

                started = time.monotonic()
                await poll()
                await wait_until(
                    lambda: settled(READINGS_PER_DAY), limit=120, what="the first day", interval=0.5
                )
                first_day_seconds = time.monotonic() - started
                puts_before = await server.put_count()
                entries_before = await records_in(bootstrap, entries)
                print(f"first poll: {puts_before} PUTs, {entries_before} ns.entries records")

                polls: list[dict[str, float]] = []
                for n in range(arguments.polls):
                    clock.advance(FIVE_MINUTES_MS)
                    started = time.monotonic()
                    await poll()
                    await wait_until(
                        lambda: settled(0), limit=60, what=f"poll {n + 1} to settle", interval=0.5
                    )
                    # A late PUT would show up here: one more look after the sink had time.
                    await asyncio.sleep(arguments.grace)
                    puts = await server.put_count()
                    published = await records_in(bootstrap, entries)
                    polls.append(
                        {
                            "puts": puts - puts_before,
                            "ns_entries_records": published - entries_before,
                            "seconds_to_settle": round(time.monotonic() - started, 2),
                        }
                    )
                    print(f"poll {n + 1}: {polls[-1]}")
                    puts_before, entries_before = puts, published
                stored = await server.document_count("entries")
        finally:
            for child in children:
                child.stop()
            server.stop()

    puts_per_poll = sum(p["puts"] for p in polls) / len(polls)
    entries_per_poll = sum(p["ns_entries_records"] for p in polls) / len(polls)
    data = {
        "machine": machine(),
        "first_poll": {
            "puts": READINGS_PER_DAY,
            "seconds_to_settle": round(first_day_seconds, 2),
        },
        "polls": polls,
        "puts_per_poll": puts_per_poll,
        "ns_entries_records_per_poll": entries_per_poll,
        "entries_stored": stored,
        "expected_entries_stored": READINGS_PER_DAY + arguments.polls,
    }
    path = write_results("writes_per_poll", data)
    print(
        table(
            [
                (
                    "first poll",
                    f"{READINGS_PER_DAY} readings, settled in {first_day_seconds:.1f} s",
                ),
                ("polls after it", f"{len(polls)} x (clock +5 min, poll the 24 h window)"),
                ("Nightscout PUTs per poll", f"{puts_per_poll:.2f}"),
                ("ns.entries records per poll", f"{entries_per_poll:.2f}"),
                ("entries stored", f"{stored} (expected {READINGS_PER_DAY + arguments.polls})"),
            ]
        )
    )
    print(f"wrote {path}")
    if puts_per_poll != 1.0:
        raise SystemExit(f"expected exactly 1 PUT per poll, got {puts_per_poll}")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.writes_per_poll")
    parser.add_argument("--polls", type=int, default=10, help="K (default 10)")
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument(
        "--grace", type=float, default=1.0, help="seconds to wait after settling before counting"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_arguments(sys.argv[1:])))

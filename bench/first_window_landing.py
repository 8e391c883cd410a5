"""Every link's first window lands in Nightscout exactly once: the roles as processes.

    .venv/bin/python -m bench.first_window_landing [--links 1000] [--sites 10]
        [--history-hours 3] [--bootstrap HOST:PORT]

A smaller scale than ``poller_scale`` (whose 11,000 links have no sink), end to end: the Dexcom
Share simulator and a multi-site Nightscout test server run in this process on the wall clock;
``nightstream poll``, ``nightstream process`` and ``nightstream sink`` run as processes from one
TOML file (link n feeds site n % sites). The simulator serves ``--history-hours`` of readings,
so a link's first window is what its first read returned, computed here with the call the
simulator answers it with. The script waits until every site holds every reading of its links'
first windows, stops the poller, waits until no write came for ``QUIET_S`` seconds, and
counts: readings missing, documents held twice, and PUTs beyond one per document held (a
document written twice).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import Child, kafka_broker, machine, table, unique_prefix, write_results
from bench.poller_scale import uptime
from nightstream.schemas.identity import device_name, entry_identifier, stream_digest
from nightstream.schemas.topics import topic_catalog
from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.dexcomshare.accounts import SimAccount
from nightstream.simulators.nightscout.sites import HostedSite, MultiSiteTestServer
from nightstream.sources.dexcomshare.servers import MAX_COUNT, MAX_MINUTES
from nightstream.topics_admin import ensure_topics

SEED = 7
QUIET_S = 5.0
UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]


def write_config(path: Path, prefix: str, bootstrap: str, sim: ShareSimulator,
                 sites: list[HostedSite]) -> None:  # fmt: skip
    lines = [
        'log_level = "WARNING"',
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        f'topic_prefix = "{prefix}"',
        "partitions = 6",
    ]
    for site in sites:
        token = site.create_access_token("sink", permissions=UPLOADER)
        lines += [f"[targets.{site.name}]", f'url = "{site.url}"', f'token = "{token}"']
    for n, account in enumerate(sim.accounts):
        lines += [
            "[[links]]",
            f'id = "d{n:05d}"',
            'vendor = "dexcomshare"',
            f'username = "{account.username}"',
            f'password = "{account.password}"',
            f'region = "{account.region}"',
            f'server_url = "{sim.base_url(account.region)}"',
            f'targets = ["{sites[n % len(sites)].name}"]',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def first_reads(sim: ShareSimulator) -> dict[str, int]:
    """Per account, when its first read came."""
    first: dict[str, int] = {}
    for read in sim.service.read_log:
        if read.account_key is not None:
            first.setdefault(read.account_key, read.at_ms)
    return first


def first_window(sim: ShareSimulator, account: SimAccount, at_ms: int) -> set[str]:
    """The identifiers of what the first read (at ``at_ms``, no cursor: the most) returned."""
    trace = sim.service.trace(account.username)
    readings = trace.readings(
        at_ms, minutes=MAX_MINUTES, max_count=MAX_COUNT, history_ms=sim.service.history_ms
    )
    stream = device_name("dexcomshare", stream_digest(account.account_id))
    return {entry_identifier(stream, r.time_ms, "sgv") for r in readings}


def held(site: HostedSite) -> Counter[str]:
    return Counter(str(d["identifier"]) for d in site.store.documents("entries"))


async def wait_for(condition: Any, what: str, within_s: float) -> float:
    """Seconds until ``condition()`` held; raises after ``within_s``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within_s:
            raise TimeoutError(f"no {what} after {within_s:.0f} s")
        await asyncio.sleep(1.0)
    return time.monotonic() - started


async def run(arguments: argparse.Namespace) -> dict[str, Any]:
    prefix = unique_prefix("landing")
    accounts = generate_accounts(arguments.links, SEED)
    history_ms = int(arguments.history_hours * 3_600_000)
    server = MultiSiteTestServer()
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-landing-") as tmp,
    ):
        await ensure_topics(bootstrap, topic_catalog(prefix, partitions=6))
        async with ShareSimulator(accounts, seed=SEED, history_ms=history_ms) as sim:
            await server.start()
            names = [f"site{n}" for n in range(arguments.sites)]
            sites = [server.add_site(name, f"secret-{name}-abcdef") for name in names]
            site_of = {a.key: sites[n % len(sites)] for n, a in enumerate(sim.accounts)}
            config = Path(tmp) / "nightstream.toml"
            write_config(config, prefix, bootstrap, sim, sites)
            command = ["-m", "nightstream.cli"]
            roles = [
                Child.start(role, [*command, role, "--config", str(config)], Path(tmp))
                for role in ("process", "sink", "poll")
            ]
            started = time.monotonic()
            load_start = uptime()
            try:
                every_read_s = await wait_for(
                    lambda: len(first_reads(sim)) == len(accounts), "first read of each", 900
                )
                expected: dict[str, set[str]] = {site.name: set() for site in sites}
                by_key = {a.key: a for a in sim.accounts}
                for key, at_ms in first_reads(sim).items():
                    expected[site_of[key].name] |= first_window(sim, by_key[key], at_ms)

                def landed() -> bool:
                    return all(set(held(site)) >= expected[site.name] for site in sites)

                await wait_for(landed, "first windows in Nightscout", 1200)
                landed_s = time.monotonic() - started
                print(f"every first window landed after {landed_s:.0f} s", file=sys.stderr)
                # New readings keep coming: stop polling, then let the sink finish.
                roles[-1].stop()
                writes: list[int] = []

                def quiet() -> bool:
                    writes.append(sum(site.stats.count(method="PUT") for site in sites))
                    window = int(QUIET_S)
                    return len(writes) > window and writes[-1] == writes[-1 - window]

                await wait_for(quiet, "quiet sink", 600)
                load_end = uptime()
            finally:
                for child in reversed(roles):
                    child.stop()
                await server.stop()
            exits = {child.name: child.process.returncode for child in roles}
            counts = {site.name: held(site) for site in sites}
            puts = sum(site.stats.count(method="PUT") for site in sites)
    documents = sum(len(c) for c in counts.values())
    return {
        "machine": machine(),
        "links": arguments.links,
        "sites": arguments.sites,
        "history_hours": arguments.history_hours,
        "load": {"at_start": load_start, "at_end": load_end},
        "first_window_readings": sum(len(e) for e in expected.values()),
        "every_link_read_after_s": round(every_read_s, 1),
        "every_first_window_landed_after_s": round(landed_s, 1),
        "documents_held": documents,
        "readings_missing": sum(len(expected[n] - set(c)) for n, c in counts.items()),
        "documents_held_twice": sum(1 for c in counts.values() for n in c.values() if n > 1),
        "puts": puts,
        "puts_beyond_one_per_document": puts - documents,
        "role_exit_codes": exits,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.first_window_landing")
    parser.add_argument("--links", type=int, default=1_000)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--history-hours", type=float, default=3.0)
    parser.add_argument("--bootstrap")
    parser.add_argument("--name", default="first_window_landing")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_args(argv)
    results = asyncio.run(run(arguments))
    path = write_results(arguments.name, results)
    keys = ("links", "first_window_readings", "every_first_window_landed_after_s",
            "readings_missing", "documents_held_twice", "puts_beyond_one_per_document")  # fmt: skip
    print(table([(key, str(results[key])) for key in keys]))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

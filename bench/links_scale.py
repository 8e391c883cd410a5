"""Links at clinic scale: a 10,000-link configuration checked, and 10,000 topic links assigned.

1. ``nightstream config check`` over a 10,000-link TOML (9,000 Dexcom, 1,000 LibreLinkUp, 100
   targets) as a subprocess: wall and CPU time; in-process, the parse (tomli against the
   standard library's tomllib, same file, same run) and the validation.
2. 10,000 links on a 12-partition links topic: one assignment member alone until it runs every
   link, then a second member joins; time until both together run every link again, and how
   many link stops and starts the (eager) rebalance cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli

from bench.common import (
    child_env,
    kafka_broker,
    machine,
    produce,
    table,
    unique_prefix,
    wait_until,
    write_results,
)
from nightstream.config import load_settings
from nightstream.schemas.records import LinkRecord
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicSpec
from nightstream.sources.link_assignment import AssignmentOptions, HandoffTopic, LinkAssignment
from nightstream.sources.link_credentials import Credentials, LinkKeyring, new_key
from nightstream.sources.secret import Secret
from nightstream.topics_admin import ensure_topics

LINKS = 10_000
TARGETS = 100


def write_config(path: Path, links: int) -> None:
    lines = ["[kafka]", 'bootstrap_servers = "127.0.0.1:9092"']
    for t in range(TARGETS):
        lines += [f"[targets.site{t}]", f'url = "https://site{t}.example.org"', f'token = "t-{t}"']
    for i in range(links):
        vendor, region = ("librelinkup", "eu") if i % 10 == 0 else ("dexcomshare", "us")
        lines += [
            "[[links]]",
            f'id = "link-{i:05d}"',
            f'vendor = "{vendor}"',
            f'username = "user{i}@example.org"',
            f'password = "password-{i}"',
            f'region = "{region}"',
            'timezone = "Europe/Paris"',
            f'targets = ["site{i % TARGETS}"]',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def cpu_of(work: Any) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def config_figures(path: Path) -> dict[str, float]:
    env = child_env()
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "nightstream.cli", "config", "check", "--config", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - started
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(done.stdout, file=sys.stderr)
    text = path.read_text(encoding="utf-8")
    return {
        "check_wall_s": round(wall, 3),
        "check_cpu_s": round(cpu, 3),
        "check_output_lines": len(done.stdout.splitlines()),
        "parse_tomllib_cpu_s": round(cpu_of(lambda: tomllib.loads(text)), 3),
        "parse_tomli_cpu_s": round(cpu_of(lambda: tomli.loads(text)), 3),
        "load_settings_cpu_s": round(cpu_of(lambda: load_settings({}, path)), 3),
    }


class CountingHost:
    def __init__(self) -> None:
        self.running: set[str] = set()
        self.starts = 0
        self.stops = 0

    async def add_link(self, link: LinkRecord) -> None:
        self.running.add(link.id)
        self.starts += 1

    async def remove_link(self, link_id: str) -> None:
        self.running.discard(link_id)
        self.stops += 1


async def assignment_figures(bootstrap: str) -> dict[str, float]:
    topic = unique_prefix("links") + ".links"
    handoffs = HandoffTopic(topic + "-handoffs", make_serde("link_handoff", subject="h"))
    specs = [
        TopicSpec(topic, "link", 12, "compact", -1),
        TopicSpec(handoffs.name, "link_handoff", 1, "compact", -1),
    ]
    await ensure_topics(bootstrap, specs, 1)
    serde = make_serde("link", subject=f"{topic}-value")
    keyring = LinkKeyring([new_key()])
    messages = []
    for i in range(LINKS):
        credentials = Credentials(Secret(f"user{i}@example.org"), Secret(f"password-{i}"))
        record = LinkRecord(
            id=f"link-{i:05d}",
            vendor="dexcomshare",
            credentials=keyring.encrypt(credentials),
            targets=[f"site{i % TARGETS}"],
            updated_at_ms=time.time_ns() // 1_000_000,
            region="us",
        )
        messages.append((topic, record.id.encode(), serde.encode(record.to_avro())))
    await produce(bootstrap, messages)
    everything = {f"link-{i:05d}" for i in range(LINKS)}
    group = unique_prefix("pollers")
    stop = asyncio.Event()
    hosts = {name: CountingHost() for name in ("a", "b")}
    tasks = []

    def start(name: str) -> None:
        options = AssignmentOptions(group_id=group, instance_id=name)
        member = LinkAssignment(bootstrap, topic, serde, hosts[name], options, handoffs)
        tasks.append(asyncio.create_task(member.run(stop)))

    async def all_running(names: tuple[str, ...]) -> bool:
        sets = [hosts[n].running for n in names]
        return all(sets) and set().union(*sets) == everything and sum(map(len, sets)) == LINKS

    cpu0, t0 = time.process_time(), time.monotonic()
    start("a")
    t1 = await wait_until(lambda: all_running(("a",)), limit=300, what="a runs every link")
    cpu1 = time.process_time()
    start("b")
    t2 = await wait_until(lambda: all_running(("a", "b")), limit=300, what="a and b share")
    cpu2 = time.process_time()
    figures = {
        "links": LINKS,
        "first_member_all_running_s": round(t1 - t0, 2),
        "first_member_cpu_s": round(cpu1 - cpu0, 2),
        "join_all_running_again_s": round(t2 - t1, 2),
        "join_cpu_s_both_members": round(cpu2 - cpu1, 2),
        "join_stops_on_a": hosts["a"].stops,
        "join_starts_on_a": hosts["a"].starts - LINKS,
        "join_starts_on_b": hosts["b"].starts,
    }
    stop.set()
    await asyncio.gather(*tasks)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-links-") as directory:
        path = Path(directory) / "links.toml"
        write_config(path, LINKS)
        config = config_figures(path)
    with kafka_broker(args.bootstrap) as bootstrap:
        assignment = asyncio.run(assignment_figures(bootstrap))
    load = os.getloadavg()
    result = {"machine": machine(), "load_average_1_5_15": load} | config | assignment
    path = write_results("links_scale", result)
    print(table([(k, str(v)) for k, v in result.items() if k != "machine"]))
    print(f"written to {path}")


if __name__ == "__main__":
    main()

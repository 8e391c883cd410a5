"""The processor's content-hash state at 1M and 10M documents of history: RSS and restore time.

    .venv/bin/python -m bench.processor_state [--history 1000000 10000000] [--delta 10000]

For each history size H, in a fresh changelog topic (3 partitions, as ``nightstream topics
create`` makes it):

1. H hash records are written to the changelog (dates spread over the last 30 days, inside the
   default 35-day horizon, so nothing expires: the worst case for the store);
2. a child process builds the local store from nothing (``LocalHashStore.assign``, a cold
   restore: no state dir yet) and exits;
3. ``--delta`` more records are written (what other instances wrote while this one was away);
4. a new child process, as the processor after a restart or a rebalance with its state dir kept,
   assigns the partitions again (reads only the delta), looks 10,000 addresses up, then revokes
   and re-assigns them within the process after another delta (an in-process rebalance);
   it reports both restore times, its RSS then (``VmRSS``) and its peak (``ru_maxrss``).

The issue's target compares the figures of step 4 at 1M and at 10M (within 20 %).

``--store sink`` does the same for the sink's acknowledged store (``<prefix>.sink.acked``,
the same ``LocalHashStore``): keys ``site|collection/identifier`` over 10,000 sites, values
as ``SiteAcks`` writes them (hash, where it was read, version); results in
``sink_state.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import child_env, kafka_broker, machine, table, unique_prefix, write_results
from nightstream.schemas.hash_changelog import changelog_record
from nightstream.schemas.hash_store import DAY_MS, LocalHashStore
from nightstream.schemas.kafka_clients import kafka_producer
from nightstream.schemas.partition_batches import PartitionBatches
from nightstream.schemas.topics import TopicNames, TopicSpec
from nightstream.sinks.nightscout.delivery.site_acks import Answer
from nightstream.streams.processor import PRODUCER_BATCH_BYTES
from nightstream.topics_admin import ensure_topics

PARTITIONS = 3
CHUNK = 50_000
LOOKUPS = 10_000


SINK_SITES = 10_000
STORES = ("processor", "sink")


def address(n: int, store: str = "processor") -> str:
    document = f"entries/{n:08d}-0000-5000-8000-{n:012d}"
    return document if store == "processor" else f"site-{n % SINK_SITES:05d}|{document}"


def answer(n: int, store: str, date_ms: int) -> str:
    """What the store holds for entry ``n``: a content hash, or a site's recorded answer."""
    content_hash = f"{n:032x}"
    if store == "processor":
        return content_hash
    return Answer(content_hash, date_ms, n % PARTITIONS, n).encode()


async def write_history(
    bootstrap: str, topic: str, start: int, count: int, store: str = "processor"
) -> float:
    """Hash records ``start .. start+count`` (round-robin over partitions); returns seconds.
    Whole Kafka batches at a time (``PartitionBatches``), one await per chunk: a ``send`` per
    record made writing 10M records most of the benchmark's CPU."""
    producer = kafka_producer(
        bootstrap, acks="all", linger_ms=20, max_batch_size=PRODUCER_BATCH_BYTES
    )
    now_ms = time.time_ns() // 1_000_000
    began = time.monotonic()
    await producer.start()
    try:
        for first in range(start, start + count, CHUNK):
            batches = PartitionBatches(producer)
            for n in range(first, min(first + CHUNK, start + count)):
                stamp = now_ms - (n * 7919) % (30 * DAY_MS)
                key, value = changelog_record(address(n, store), answer(n, store, stamp))
                batches.add(topic, n % PARTITIONS, key, value, stamp)
            await asyncio.gather(*(submitted.acknowledged for submitted in await batches.send()))
    finally:
        await producer.stop()
    return time.monotonic() - began


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def child(arguments: argparse.Namespace) -> dict[str, Any]:
    """One processor-like process over the store in ``--state-dir``."""
    producer = kafka_producer(arguments.bootstrap)
    await producer.start()
    store = LocalHashStore(
        arguments.bootstrap,
        arguments.topic,
        producer,
        state_dir=Path(arguments.state_dir),
        owner=arguments.store,
    )
    partitions = list(range(PARTITIONS))
    try:
        began = time.monotonic()
        read = await store.assign(partitions)
        result: dict[str, Any] = {"restore_s": time.monotonic() - began, "records_read": read}
        if arguments.cold:
            return result
        rng = random.Random(1)
        sample = rng.sample(range(arguments.history), LOOKUPS)
        wanted = [address(n, arguments.store) for n in sample]
        began = time.monotonic()
        found = store.lookup(wanted)
        result["lookups_per_s"] = LOOKUPS / (time.monotonic() - began)
        result["lookups_found"] = len(found)
        store.revoke(partitions)
        await write_history(
            arguments.bootstrap,
            arguments.topic,
            arguments.history * 2,
            arguments.delta,
            arguments.store,
        )
        began = time.monotonic()
        result["rebalance_records_read"] = await store.assign(partitions)
        result["rebalance_restore_s"] = time.monotonic() - began
        result["rss_mib"] = rss_kib() / 1024
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["rows"] = store.count()
        result["store_mib"] = sum(f.stat().st_size for f in store.path.parent.iterdir()) / 2**20
        return result
    finally:
        store.close()
        await producer.stop()


def run_child(
    bootstrap: str, topic: str, state_dir: Path, history: int, store: str, *extra: str
) -> Any:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.processor_state",
            "--child",
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--state-dir",
            str(state_dir),
            "--history",
            str(history),
            "--store",
            store,
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


async def measure(
    bootstrap: str, history: int, delta: int, workdir: Path, store: str
) -> dict[str, Any]:
    names = TopicNames(unique_prefix("state"))
    topic = names.content_hashes if store == "processor" else names.sink_acked
    await ensure_topics(bootstrap, [TopicSpec(topic, "json", PARTITIONS, "compact", -1)])
    written = await write_history(bootstrap, topic, 0, history, store)
    print(f"{history}: history written in {written:.0f} s", file=sys.stderr)
    state_dir = workdir / f"state-{history}"
    cold = run_child(bootstrap, topic, state_dir, history, store, "--cold")
    print(f"{history}: cold restore {cold['restore_s']:.0f} s", file=sys.stderr)
    await write_history(bootstrap, topic, history, delta, store)
    warm = run_child(bootstrap, topic, state_dir, history, store, "--delta", str(delta))
    return {"history": history, "delta": delta, "cold": cold, "after_restart": warm}


async def main(arguments: argparse.Namespace) -> None:
    results: dict[str, Any] = {
        "machine": machine(),
        "store": arguments.store,
        "partitions": PARTITIONS,
        "runs": [],
    }
    rows: list[tuple[str, str]] = []
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-state-") as tmp,
    ):
        for history in arguments.history:
            run = await measure(bootstrap, history, arguments.delta, Path(tmp), arguments.store)
            results["runs"].append(run)
            warm, cold = run["after_restart"], run["cold"]
            rows += [
                (f"{history}: cold restore (no local state)", f"{cold['restore_s']:.1f} s"),
                (
                    f"{history}: restart with state, delta {run['delta']}",
                    f"{warm['restore_s']:.2f} s ({warm['records_read']} records read)",
                ),
                (
                    f"{history}: in-process rebalance, delta {run['delta']}",
                    f"{warm['rebalance_restore_s']:.2f} s",
                ),
                (
                    f"{history}: RSS after / peak",
                    f"{warm['rss_mib']:.0f} / {warm['peak_rss_mib']:.0f} MiB",
                ),
                (f"{history}: store on disk", f"{warm['store_mib']:.0f} MiB, {warm['rows']} rows"),
                (f"{history}: lookups", f"{warm['lookups_per_s']:.0f}/s"),
            ]
            write_results(f"{arguments.store}_state", results)
    print(table(rows))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.processor_state")
    parser.add_argument("--history", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--delta", type=int, default=10_000)
    parser.add_argument("--store", choices=STORES, default="processor")
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    parsed = parse_arguments(sys.argv[1:])
    if parsed.child:
        parsed.history = parsed.history[0]
        print(json.dumps(asyncio.run(child(parsed))))
    else:
        asyncio.run(main(parsed))

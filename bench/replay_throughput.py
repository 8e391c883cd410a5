"""Replay throughput against the direct-PUT ceiling, in one run.

    .venv/bin/python -m bench.replay_throughput [--docs 20000] [--bootstrap HOST:PORT]

The documents and the ceiling come from ``bench.sink_throughput``: N documents of one link in
fresh ``ns.*`` topics; plain httpx PUTs at each --concurrency (a sweep on --sweep-docs documents,
each into a fresh test server), then the best concurrency PUTs all N into another fresh server.
Then the real ``nightstream replay --link bench --to URL --concurrency <best>`` runs as a
subprocess into a fresh test server, timed from its launch until the server has answered N PUTs
(its own counter, polled every 0.1 s over one kept-alive connection, so that polling costs the
two processes next to nothing), and from its first PUT.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    TestServerProcess,
    child_env,
    kafka_broker,
    machine,
    table,
    unique_prefix,
    write_results,
)
from bench.sink_throughput import LINK, ceiling, ceiling_sweep, make_documents, publish
from nightstream.schemas.documents import Collection

POLL_S = 0.1
REPLAY_LIMIT_S = 600


def _config(workdir: Path, bootstrap: str, prefix: str) -> Path:
    path = workdir / "nightstream.toml"
    path.write_text(
        "\n".join(
            [
                'log_level = "WARNING"',
                "[kafka]",
                f'bootstrap_servers = "{bootstrap}"',
                f'topic_prefix = "{prefix}"',
                "partitions = 3",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


async def run_replay(
    server: TestServerProcess, config: Path, docs: int, concurrency: int, workdir: Path
) -> dict[str, Any]:
    """Launch ``nightstream replay``; times until the server answered ``docs`` PUTs."""
    command = [sys.executable, "-m", "nightstream.cli", "replay", "--config", str(config)]
    command += ["--link", LINK, "--to", server.url, "--concurrency", str(concurrency)]
    env = {**child_env(), "NIGHTSTREAM_REPLAY_TOKEN": server.token}
    with (workdir / "replay.out").open("wb") as out, (workdir / "replay.err").open("wb") as err:
        launched = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=err, cwd=workdir, env=env
        )
    first_put: float | None = None
    puts = 0
    secret = hashlib.sha1(server.api_secret.encode()).hexdigest()  # noqa: S324
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"api-secret": secret}) as http:
            while puts < docs:
                ended = process.returncode is not None
                if time.monotonic() - launched > REPLAY_LIMIT_S:
                    raise RuntimeError(f"the replay took too long: {_tail(workdir / 'replay.err')}")
                await asyncio.sleep(POLL_S)
                puts = await _put_count(http)
                if puts and first_put is None:
                    first_put = time.monotonic()
                if ended and puts < docs:
                    raise RuntimeError(f"the replay ended early: {_tail(workdir / 'replay.err')}")
        stored = time.monotonic()
        code = await asyncio.wait_for(process.wait(), 60)
        exited = time.monotonic()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert first_put is not None
    return {
        "exit_code": code,
        "seconds_total": stored - launched,
        "seconds_to_first_put": first_put - launched,
        "seconds_writing": stored - first_put,
        "seconds_to_exit": exited - launched,
        "report": (workdir / "replay.out").read_text(errors="replace").splitlines(),
    }


async def _put_count(http: httpx.AsyncClient) -> int:
    """PUTs the server answered, from its own counters (as ``TestServerProcess.put_count``)."""
    response = await http.get("/__testserver/stats")
    response.raise_for_status()
    requests: list[dict[str, Any]] = response.json()["requests"]
    return sum(int(r["count"]) for r in requests if r["method"] == "PUT")


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def main(arguments: argparse.Namespace) -> None:
    records = make_documents(arguments.docs)
    by_collection = {c.value: sum(r.collection is c for r in records) for c in Collection}
    prefix = unique_prefix("replay")
    with (
        kafka_broker(arguments.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp,
    ):
        workdir = Path(tmp)
        await publish(bootstrap, prefix, records)
        print(f"published {len(records)} documents {by_collection} to {prefix}.ns.*")
        sample = records[: arguments.sweep_docs]
        sweep = await ceiling_sweep(workdir, sample, arguments.concurrency)
        best = max(sweep, key=lambda c: sweep[c])
        with TestServerProcess(workdir) as server:
            ceiling_rate = await ceiling(server, records, best)
        print(f"ceiling c={best}: {ceiling_rate:.0f} docs/s")

        config = _config(workdir, bootstrap, prefix)
        with TestServerProcess(workdir) as server:
            replay = await run_replay(server, config, len(records), best, workdir)
            puts = await server.put_count()
            stored = sum([await server.document_count(c.value) for c in Collection])

    rate = len(records) / replay["seconds_total"]
    steady = len(records) / replay["seconds_writing"]
    data = {
        "machine": machine(),
        "docs": len(records),
        "by_collection": by_collection,
        "sweep_docs": len(sample),
        "sweep_docs_per_s": {str(c): round(r, 1) for c, r in sweep.items()},
        "best_concurrency": best,
        "ceiling_docs_per_s": round(ceiling_rate, 1),
        "replay": {
            **replay,
            "concurrency": best,
            "docs_per_s_total": round(rate, 1),
            "docs_per_s_after_first_put": round(steady, 1),
            "server_puts": puts,
            "server_documents": stored,
        },
        "ratio_replay_to_ceiling": round(rate / ceiling_rate, 3),
        "ratio_replay_after_first_put_to_ceiling": round(steady / ceiling_rate, 3),
    }
    path = write_results("replay_throughput", data)
    rows = [("documents", f"{len(records)} {by_collection}")]
    rows += [(f"sweep c={c} ({len(sample)} docs)", f"{r:8.0f} docs/s") for c, r in sweep.items()]
    rows += [
        (f"ceiling c={best}", f"{ceiling_rate:8.0f} docs/s"),
        (
            f"replay c={best} from launch",
            f"{rate:8.0f} docs/s  ({replay['seconds_total']:.1f} s)",
        ),
        ("replay after 1st PUT", f"{steady:8.0f} docs/s"),
        ("replay startup", f"{replay['seconds_to_first_put']:.1f} s to the first PUT"),
        (
            "replay / ceiling",
            f"{rate / ceiling_rate:.2f} (after 1st PUT {steady / ceiling_rate:.2f})",
        ),
        ("server PUTs / stored", f"{puts} / {stored}"),
        ("replay exit", f"code {replay['exit_code']} after {replay['seconds_to_exit']:.1f} s"),
    ]
    print(table(rows))
    print(f"wrote {path}")
    if puts != len(records) or stored != len(records) or replay["exit_code"] != 0:
        raise SystemExit("the replay did not store every document exactly once")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_throughput")
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[4, 8, 16, 32],
        help="comma-separated ceiling concurrencies (default 4,8,16,32)",
    )
    parser.add_argument("--sweep-docs", type=int, default=5000)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_arguments()))

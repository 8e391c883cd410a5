"""The sink's start check at clinic scale: N sites (default 10,000), one in four with a read-only
token, checked as `sink` does at start (``check_sites``, one JWT exchange per site, a bounded
number at a time, the process-wide request limit shared).

Measures how long until every site has its verdict, the longest event-loop stall meanwhile (the
loop watch fences every write after 7.5 s), and the RSS. The test server runs in its own process.

    .venv/bin/python -m bench.start_check_scale              # 10,000 sites, ~1 min
    .venv/bin/python -m bench.start_check_scale --sites 1000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import LoopStalls, machine, table, write_results
from bench.delivery_sites import SiteServer
from nightstream.sinks.nightscout.client import NightscoutClient, NightscoutTargetConfig
from nightstream.sinks.nightscout.delivery.delivery_sink import ATTEMPTS_IN_FLIGHT
from nightstream.sinks.nightscout.delivery.start_check import check_sites

READ_ONLY_EVERY = 4


async def _read_only_tokens(server: SiteServer) -> dict[str, str]:
    """A token with the built-in ``readable`` role for every fourth site."""
    tokens = {}
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(name: str) -> None:
            entry = server.sites[name]
            secret = hashlib.sha1(entry["api_secret"].encode()).hexdigest()  # noqa: S324
            async with limit:
                response = await client.post(
                    f"{entry['url']}/__testserver/access-tokens",
                    json={"name": "reader", "roles": ["readable"]},
                    headers={"api-secret": secret},
                )
            response.raise_for_status()
            tokens[name] = str(response.json()["accessToken"])

        await asyncio.gather(*(one(name) for name in list(server.sites)[::READ_ONLY_EVERY]))
    return tokens


async def _measure(server: SiteServer) -> dict[str, float]:
    tokens = {name: entry["token"] for name, entry in server.sites.items()}
    read_only = await _read_only_tokens(server)
    tokens.update(read_only)
    shared = asyncio.Semaphore(ATTEMPTS_IN_FLIGHT)
    stop = asyncio.Event()
    clients = {
        name: NightscoutClient(
            NightscoutTargetConfig(name=name, base_url=server.sites[name]["url"], access_token=t),
            stop,
            shared_slots=shared,
        )
        for name, t in tokens.items()
    }
    refused: dict[str, str] = {}

    async def verdict(site: str, refusal: str | None) -> None:
        if refusal is not None:
            refused[site] = refusal

    began = time.monotonic()
    try:
        async with LoopStalls() as stalls:
            await check_sites({name: c.check_at_start for name, c in clients.items()}, verdict)
    finally:
        took = time.monotonic() - began
        for client in clients.values():
            await client.aclose()
    if set(refused) != set(read_only):
        raise AssertionError(f"refused {len(refused)} sites, {len(read_only)} are read-only")
    return {
        "sites": len(clients),
        "read_only": len(read_only),
        "refused": len(refused),
        "seconds_to_every_verdict": round(took, 2),
        "sites_per_second": round(len(clients) / took),
        "longest_loop_stall_ms": round(stalls.longest * 1000),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=10_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, SiteServer(arguments.sites, Path(workdir)) as s:
        figures = asyncio.run(_measure(s))
    print(table([(key.replace("_", " "), str(value)) for key, value in figures.items()]))
    print(write_results("start_check_scale", {"machine": machine(), **figures}))


if __name__ == "__main__":
    main()

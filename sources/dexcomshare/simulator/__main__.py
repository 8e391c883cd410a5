"""Run the Dexcom Share simulator as a process, for the demo.

    python -m sources.dexcomshare.simulator --port 0 --accounts 5 --seed 1 [--speed 60]

Prints the URL, one base URL per region and the accounts it created (username and password),
then serves until interrupted. ``--json`` prints the same as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Sequence

from sources.dexcomshare.servers import REGIONS, Region, parse_region
from sources.dexcomshare.simulator.accounts import generate_accounts
from sources.dexcomshare.simulator.server import ShareSimulator
from sources.simclock import AcceleratedClock, Clock, SystemClock


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sources.dexcomshare.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--accounts", type=int, default=3, help="how many accounts to create")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same accounts and data")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (60: 1 h/min)"
    )
    parser.add_argument(
        "--start-ms", type=int, default=None, help="simulated epoch ms at start (default: now)"
    )
    parser.add_argument(
        "--region",
        dest="regions",
        action="append",
        type=parse_region,
        help="region of the accounts, repeat to deal round-robin (default: us)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    return parser.parse_args(argv)


def build_clock(speed: float, start_ms: int | None) -> Clock:
    if speed == 1.0 and start_ms is None:
        return SystemClock()
    return AcceleratedClock(speed, start_ms)


def describe(sim: ShareSimulator) -> dict[str, object]:
    return {
        "url": sim.url,
        "servers": {region: sim.base_url(region) for region in REGIONS},
        "admin": f"{sim.url}/__sim/state",
        "clock": repr(sim.clock),
        "accounts": [
            {
                "username": account.username,
                "password": account.password,
                "region": account.region,
                "base_url": sim.base_url(account.region),
            }
            for account in sim.accounts
        ],
    }


def print_description(description: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(description), flush=True)
        return
    print(f"Dexcom Share simulator listening on {description['url']}")
    print(f"  admin: {description['admin']}   clock: {description['clock']}")
    servers = description["servers"]
    assert isinstance(servers, dict)
    for region, base_url in servers.items():
        print(f"  region {region:<3} base URL {base_url}")
    print("accounts (username / password / region):")
    accounts = description["accounts"]
    assert isinstance(accounts, list)
    for account in accounts:
        print(f"  {account['username']}  {account['password']}  {account['region']}")
    print("", flush=True)


async def serve(args: argparse.Namespace) -> None:
    regions: tuple[Region, ...] = tuple(args.regions or ("us",))
    sim = ShareSimulator(
        generate_accounts(args.accounts, args.seed, regions),
        clock=build_clock(args.speed, args.start_ms),
        seed=args.seed,
        host=args.host,
        port=args.port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with sim:
        print_description(describe(sim), args.json)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()

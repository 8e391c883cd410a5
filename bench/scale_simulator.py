"""One vendor simulator with many accounts, in a process of its own, on a wall-anchored clock.

    python -m bench.scale_simulator --vendor dexcomshare --accounts 10000 --seed 1 \
        --speed 4 --start-ms MS --anchor-ms MS

Prints one JSON line (its URL) once it listens, then serves until SIGTERM; on SIGTERM it prints
one more JSON line: the requests it served and what its accounts saw (logins, reads,
throttles). Accounts come from the vendor's ``generate_accounts(count, seed)``, so the parent
builds the same list without passing passwords around. ``poller_scale.py`` uses it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import Counter
from collections.abc import Sequence

from bench.fault_poller import WallAnchoredClock
from nightstream.simulators.dexcomshare import ShareSimulator
from nightstream.simulators.dexcomshare import generate_accounts as share_accounts
from nightstream.simulators.kit.server import SimulatorServer
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.simulators.librelinkup import generate_accounts as llu_accounts
from nightstream.simulators.librelinkup.options import SimOptions

VENDORS = ("dexcomshare", "librelinkup")


def build(args: argparse.Namespace) -> SimulatorServer:
    clock = WallAnchoredClock(args.speed, args.start_ms, args.anchor_ms)
    if args.vendor == "dexcomshare":
        return ShareSimulator(share_accounts(args.accounts, args.seed), seed=args.seed, clock=clock)
    accounts = llu_accounts(args.accounts, args.seed)
    return LluSimulator(accounts, clock=clock, options=SimOptions(seed=args.seed))


def seen(sim: SimulatorServer) -> dict[str, int]:
    totals: Counter[str] = Counter()
    if isinstance(sim, ShareSimulator):
        for counters in sim.service.all_counters().values():
            totals.update(counters.as_dict())
    elif isinstance(sim, LluSimulator):
        for llu_counters in sim.service.all_counters().values():
            totals.update(llu_counters.as_dict())
    return {"requests_total": sim.knobs.requests_total, **totals}


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build(args) as sim:
        print(json.dumps({"url": sim.url}), flush=True)
        await stop.wait()
        print(json.dumps(seen(sim)), flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_simulator")
    parser.add_argument("--vendor", choices=VENDORS, required=True)
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--start-ms", type=int, required=True)
    parser.add_argument("--anchor-ms", type=int, required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

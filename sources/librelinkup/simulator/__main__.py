"""Run the LibreLinkUp simulator as a process, for the demo.

    python -m sources.librelinkup.simulator --port 0 --accounts 3 --patients 2 --seed 1 \
        [--speed 60] [--region eu --region us]

Prints the URL, the host template clients use (``server_url``) and the accounts it created
(e-mail, password, region, patient ids), then serves until interrupted. ``--json`` prints the
same as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Sequence

from sources.librelinkup.hosts import REGION_PLACEHOLDER, region_key
from sources.librelinkup.simulator.accounts import generate_accounts
from sources.librelinkup.simulator.options import SimOptions
from sources.librelinkup.simulator.server import LluSimulator
from sources.simclock import AcceleratedClock, SystemClock

# flag, type, default, help
_NUMBERS: tuple[tuple[str, type, object, str], ...] = (
    ("--port", int, 0, "0 picks a free port"),
    ("--accounts", int, 3, "how many accounts to create"),
    ("--patients", int, 1, "patients each account follows"),
    ("--seed", int, 0, "same seed, same accounts and data"),
    ("--history-step-minutes", int, 5, "spacing of the graph's history points"),
    ("--speed", float, 1.0, "simulated seconds per real second (60: 1 h/min)"),
    ("--start-ms", int, None, "simulated epoch ms at start (default: now)"),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sources.librelinkup.simulator")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--host", default="127.0.0.1")
    for flag, kind, default, text in _NUMBERS:
        parser.add_argument(flag, type=kind, default=default, help=text)
    parser.add_argument(
        "--region",
        dest="regions",
        action="append",
        type=region_key,
        help="region of the accounts, repeat to deal round-robin (default: eu)",
    )
    return parser.parse_args(argv)


def describe(sim: LluSimulator) -> dict[str, object]:
    return {
        "url": sim.url,
        "server_url": sim.base_url(REGION_PLACEHOLDER),
        "admin": f"{sim.url}/__sim/state",
        "clock": repr(sim.clock),
        "accounts": [
            {
                "email": account.email,
                "password": account.password,
                "region": account.region,
                "patient_ids": [patient.patient_id for patient in account.patients],
            }
            for account in sim.service.accounts
        ],
    }


def print_description(description: dict[str, object]) -> None:
    print(f"LibreLinkUp simulator listening on {description['url']}")
    print(f"  server_url: {description['server_url']}   admin: {description['admin']}")
    print("accounts (e-mail / password / region / patient ids):")
    accounts = description["accounts"]
    assert isinstance(accounts, list)
    for account in accounts:
        patients = ",".join(account["patient_ids"])
        print(f"  {account['email']}  {account['password']}  {account['region']}  {patients}")
    print("", flush=True)


async def serve(args: argparse.Namespace) -> None:
    regions: tuple[str, ...] = tuple(args.regions or ("eu",))
    real_time = args.speed == 1.0 and args.start_ms is None
    clock = SystemClock() if real_time else AcceleratedClock(args.speed, args.start_ms)
    options = SimOptions(seed=args.seed, history_step_ms=args.history_step_minutes * 60_000)
    sim = LluSimulator(
        generate_accounts(args.accounts, args.seed, regions, args.patients),
        clock=clock,
        options=options,
        host=args.host,
        port=args.port,
    )
    async with sim:
        description = describe(sim)
        if args.json:
            print(json.dumps(description), flush=True)
        else:
            print_description(description)
        await _until_signalled()


async def _until_signalled() -> None:
    loop = asyncio.get_running_loop()
    signalled: asyncio.Future[None] = loop.create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _settle, signalled)
    await signalled


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()

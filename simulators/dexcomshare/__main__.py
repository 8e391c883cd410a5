"""Run the Dexcom Share simulator as a process, for the demo.

    python -m nightstream.simulators.dexcomshare --port 0 --accounts 5 --seed 1 [--speed 60]

Prints the URL, one base URL per region and the accounts it created (username and password),
then serves until interrupted. ``--json`` prints the same as one JSON line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nightstream.simulators.dexcomshare.accounts import generate_accounts
from nightstream.simulators.dexcomshare.server import ShareSimulator
from nightstream.simulators.kit.process import (
    add_common_arguments,
    clock_from,
    serve_until_signalled,
)
from nightstream.sources.dexcomshare.servers import REGIONS, Region, parse_region


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nightstream.simulators.dexcomshare")
    add_common_arguments(parser, parse_region, "us")
    return parser.parse_args(argv)


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


def print_description(description: dict[str, object]) -> None:
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


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    regions: tuple[Region, ...] = tuple(args.regions or ("us",))
    accounts = generate_accounts(args.accounts, args.seed, regions)
    clock, host, port = clock_from(args), args.host, args.port
    sim = ShareSimulator(accounts, clock=clock, seed=args.seed, host=host, port=port)
    serve_until_signalled(sim, lambda: describe(sim), print_description, as_json=args.json)


if __name__ == "__main__":
    main()

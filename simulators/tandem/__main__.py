"""Run the Tandem Source simulator as a process, for the demo.

    python -m nightstream.simulators.tandem --port 0 --accounts 3 --seed 1 [--speed 60] \
        [--region us --region eu]

Prints the URL (a link's ``server_url``) and the accounts it created (e-mail, password, region,
pump serials and the zone their clocks are set in), then serves until interrupted. ``--json``
prints the same as one JSON line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nightstream.simulators.kit.process import (
    add_common_arguments,
    clock_from,
    serve_until_signalled,
)
from nightstream.simulators.tandem.accounts import generate_accounts
from nightstream.simulators.tandem.options import SimOptions
from nightstream.simulators.tandem.server import TandemSimulator
from nightstream.sources.tandem.protocol import region_of


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nightstream.simulators.tandem")
    add_common_arguments(parser, region_of, "us")
    return parser.parse_args(argv)


def describe(sim: TandemSimulator) -> dict[str, object]:
    return {
        "url": sim.url,
        "server_url": sim.url,
        "admin": f"{sim.url}/__sim/state",
        "clock": repr(sim.clock),
        "accounts": [
            {
                "email": account.email,
                "password": account.password,
                "region": account.region,
                "pumps": [{"serial": p.serial, "timezone": p.time_zone} for p in account.pumps],
            }
            for account in sim.service.accounts
        ],
    }


def print_description(description: dict[str, object]) -> None:
    print(f"Tandem Source simulator listening on {description['url']}")
    print(f"  server_url: {description['server_url']}   admin: {description['admin']}")
    print("accounts (e-mail / password / region / pump serial and clock zone):")
    accounts = description["accounts"]
    assert isinstance(accounts, list)
    for account in accounts:
        pumps = ",".join(f"{p['serial']} ({p['timezone']})" for p in account["pumps"])
        print(f"  {account['email']}  {account['password']}  {account['region']}  {pumps}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    regions: tuple[str, ...] = tuple(args.regions or ("us",))
    accounts = generate_accounts(args.accounts, args.seed, regions)
    sim = TandemSimulator(
        accounts,
        clock=clock_from(args),
        options=SimOptions(seed=args.seed),
        host=args.host,
        port=args.port,
    )
    serve_until_signalled(sim, lambda: describe(sim), print_description, as_json=args.json)


if __name__ == "__main__":
    main()

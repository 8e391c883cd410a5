"""Run the LibreLinkUp simulator as a process, for the demo.

    python -m nightstream.simulators.librelinkup --port 0 --accounts 3 --patients 2 --seed 1 \
        [--speed 60] [--region eu --region us]

Prints the URL, the host template clients use (``server_url``) and the accounts it created
(e-mail, password, region, patient ids), then serves until interrupted. ``--json`` prints the
same as one JSON line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nightstream.simulators.kit.process import (
    add_common_arguments,
    clock_from,
    serve_until_signalled,
)
from nightstream.simulators.librelinkup.accounts import generate_accounts
from nightstream.simulators.librelinkup.options import SimOptions
from nightstream.simulators.librelinkup.server import LluSimulator
from nightstream.sources.librelinkup.hosts import REGION_PLACEHOLDER, region_key


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nightstream.simulators.librelinkup")
    add_common_arguments(parser, region_key, "eu")
    parser.add_argument("--patients", type=int, default=1, help="patients each account follows")
    parser.add_argument(
        "--history-step-minutes", type=int, default=5, help="spacing of the graph's history points"
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


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    regions: tuple[str, ...] = tuple(args.regions or ("eu",))
    accounts = generate_accounts(args.accounts, args.seed, regions, args.patients)
    options = SimOptions(seed=args.seed, history_step_ms=args.history_step_minutes * 60_000)
    sim = LluSimulator(
        accounts, clock=clock_from(args), options=options, host=args.host, port=args.port
    )
    serve_until_signalled(sim, lambda: describe(sim), print_description, as_json=args.json)


if __name__ == "__main__":
    main()

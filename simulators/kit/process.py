"""Running a simulator as a process, for the demo: common flags, the clock, serve until a signal.

Each simulator prints what it created (URL, accounts) once it listens, as text or, with
``--json``, as one JSON line that a parent process can read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Callable

from nightstream.schemas.lifecycle import StartStop
from nightstream.sources.simclock import AcceleratedClock, Clock, SystemClock


def add_common_arguments(
    parser: argparse.ArgumentParser, region: Callable[[str], str], default_region: str
) -> None:
    """The flags of every simulator; ``region`` reads a region name (ValueError if bad)."""
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--accounts", type=int, default=3, help="how many accounts to create")
    parser.add_argument(
        "--region",
        dest="regions",
        action="append",
        type=region,
        help=f"region of the accounts, repeat to deal round-robin (default: {default_region})",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same accounts and data")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (60: 1 h/min)"
    )
    parser.add_argument(
        "--start-ms", type=int, default=None, help="simulated epoch ms at start (default: now)"
    )


def clock_from(args: argparse.Namespace) -> Clock:
    """The real clock, unless ``--speed`` or ``--start-ms`` ask for a simulated one."""
    if args.speed == 1.0 and args.start_ms is None:
        return SystemClock()
    return AcceleratedClock(args.speed, args.start_ms)


def serve_until_signalled(
    sim: StartStop,
    describe: Callable[[], dict[str, object]],
    print_text: Callable[[dict[str, object]], None],
    *,
    as_json: bool,
) -> None:
    """Start ``sim``, print its description once it listens, serve until SIGINT or SIGTERM."""
    asyncio.run(_serve(sim, describe, print_text, as_json))


async def _serve(
    sim: StartStop,
    describe: Callable[[], dict[str, object]],
    print_text: Callable[[dict[str, object]], None],
    as_json: bool,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with sim:
        description = describe()
        if as_json:
            print(json.dumps(description), flush=True)
        else:
            print_text(description)
            print("", flush=True)
        await stop.wait()

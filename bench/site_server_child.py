"""The many-site Nightscout test server with a stall timeline beside it (see
``bench.stall_timeline``): ``python -m bench.site_server_child --stalls FILE -- <server args>``.

Once its sites are built (the listing file is written) the server's objects are left out of
later garbage collections, as the sink does with its own (``nightstream.long_lived``): 10,000
sites in one Python process made full collections of up to 3 s, and every document in flight
then was as late, which is the stand-in's cost, not the sink's.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench.stall_timeline import record_stalls
from nightstream.long_lived import freeze_long_lived
from nightstream.simulators.nightscout.__main__ import parse_arguments, serve


async def freeze_once_listed(listing: Path) -> None:
    # The server says it is ready only by writing the file: nothing to wait on but the file.
    while not await asyncio.to_thread(listing.exists):  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    freeze_long_lived()


async def serve_watched(server_argv: list[str], stalls: Path) -> None:
    arguments = parse_arguments(server_argv)
    watches = [asyncio.create_task(record_stalls(stalls))]
    if arguments.sites_out is not None:
        watches.append(asyncio.create_task(freeze_once_listed(arguments.sites_out)))
    try:
        await serve(arguments)
    finally:
        for watch in watches:
            watch.cancel()


if __name__ == "__main__":
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[0] != "--stalls" or argv[2] != "--":
        sys.exit("usage: python -m bench.site_server_child --stalls FILE -- <server arguments>")
    asyncio.run(serve_watched(argv[3:], Path(argv[1])))

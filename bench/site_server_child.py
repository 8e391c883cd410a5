"""The many-site Nightscout test server with a stall timeline beside it (see
``bench.stall_timeline``): ``python -m bench.site_server_child --stalls FILE -- <server args>``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench.stall_timeline import record_stalls
from nightstream.simulators.nightscout.__main__ import parse_arguments, serve


async def serve_watched(server_argv: list[str], stalls: Path) -> None:
    watch = asyncio.create_task(record_stalls(stalls))
    try:
        await serve(parse_arguments(server_argv))
    finally:
        watch.cancel()


if __name__ == "__main__":
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[0] != "--stalls" or argv[2] != "--":
        sys.exit("usage: python -m bench.site_server_child --stalls FILE -- <server arguments>")
    asyncio.run(serve_watched(argv[3:], Path(argv[1])))

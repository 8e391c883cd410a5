"""Run the test server as a process (for the demo, and tests that kill other processes).

    python -m nightstream.simulators.nightscout --port 0 --api-secret <12+ chars> [--token-out FILE]

Prints two lines on stdout, then serves until SIGTERM or SIGINT:

    http://127.0.0.1:<port>
    <access token of subject "nightstream-uploader" (api:*:create, api:*:update, api:*:read)>

With ``--sites N --sites-out FILE`` it hosts N sites instead (``site-00000``...), each with its
own API secret (random) and uploader token, at ``http://127.0.0.1:<port>/site/<name>``; FILE
gets ``{name: {"url", "token", "api_secret"}}`` as JSON, and stdout the server's URL and FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
from pathlib import Path

from nightstream.simulators.nightscout.server import NightscoutTestServer
from nightstream.simulators.nightscout.sites import MultiSiteTestServer

UPLOADER_SUBJECT = "nightstream-uploader"
UPLOADER_PERMISSIONS = ("api:*:create", "api:*:update", "api:*:read")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m nightstream.simulators.nightscout",
        description="In-memory Nightscout API v3 test server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--api-secret",
        default=os.environ.get("API_SECRET"),
        help="at least 12 characters (default: $API_SECRET)",
    )
    parser.add_argument("--token-out", type=Path, help="also write the access token here")
    parser.add_argument(
        "--require-https",
        action="store_true",
        help="redirect plain HTTP to https (INSECURE_USE_HTTP=false)",
    )
    parser.add_argument("--auth-default-roles", default="readable")
    parser.add_argument("--auth-fail-delay-ms", type=float, default=50.0)
    parser.add_argument("--jwt-lifetime-seconds", type=int, default=8 * 3600)
    parser.add_argument("--sites", type=int, default=0, help="host this many sites instead")
    parser.add_argument("--sites-out", type=Path, help="with --sites: where to write them")
    arguments = parser.parse_args(argv)
    if arguments.sites:
        if arguments.sites_out is None:
            parser.error("--sites needs --sites-out FILE")
        return arguments
    if not arguments.api_secret:
        parser.error("--api-secret (or $API_SECRET) is required")
    return arguments


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
        handle.write(text)
    Path(handle.name).replace(path)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal_number, stop.set)
    await stop.wait()


async def serve_sites(arguments: argparse.Namespace) -> None:
    async with MultiSiteTestServer(arguments.host, arguments.port) as server:
        listing: dict[str, dict[str, str]] = {}
        for number in range(arguments.sites):
            secret = secrets.token_hex(12)
            site = server.add_site(
                f"site-{number:05d}",
                secret,
                auth_default_roles=arguments.auth_default_roles,
                auth_fail_delay_seconds=arguments.auth_fail_delay_ms / 1000,
                jwt_lifetime_seconds=arguments.jwt_lifetime_seconds,
                insecure_use_http=not arguments.require_https,
            )
            token = site.create_access_token(UPLOADER_SUBJECT, permissions=UPLOADER_PERMISSIONS)
            listing[site.name] = {"url": site.url, "token": token, "api_secret": secret}
        _write_atomically(arguments.sites_out, json.dumps(listing) + "\n")
        print(server.url, flush=True)
        print(arguments.sites_out, flush=True)
        await _until_signalled()


async def serve(arguments: argparse.Namespace) -> None:
    if arguments.sites:
        await serve_sites(arguments)
        return
    server = NightscoutTestServer(
        api_secret=arguments.api_secret,
        host=arguments.host,
        port=arguments.port,
        auth_default_roles=arguments.auth_default_roles,
        auth_fail_delay_seconds=arguments.auth_fail_delay_ms / 1000,
        jwt_lifetime_seconds=arguments.jwt_lifetime_seconds,
        insecure_use_http=not arguments.require_https,
    )
    await server.start()
    try:
        token = server.create_access_token(UPLOADER_SUBJECT, permissions=UPLOADER_PERMISSIONS)
        if arguments.token_out:
            _write_atomically(arguments.token_out, token + "\n")
        print(server.url, flush=True)
        print(token, flush=True)
        await _until_signalled()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    try:
        asyncio.run(serve(parse_arguments(argv)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The simulator as a process, as the demo runs it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx

from nightstream.sources.dexcomshare.servers import share_server
from tests.sources.dexcomshare.conftest import share_client
from tests.timing import scaled

REPO_ROOT = Path(__file__).resolve().parents[3]


async def test_process_prints_url_and_accounts_that_work(http: httpx.AsyncClient) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nightstream.simulators.dexcomshare",
        "--port", "0", "--accounts", "2", "--seed", "1", "--speed", "60",
        "--region", "us", "--region", "jp", "--json",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=scaled(10))
        described = json.loads(line)
        assert described["url"].startswith("http://127.0.0.1:")
        assert [a["region"] for a in described["accounts"]] == ["us", "jp"]
        for account in described["accounts"]:
            server = share_server(account["region"], account["base_url"])
            client = share_client(server, account["username"], account["password"], http=http)
            assert (await client.read_glucose(60, 12)).reading_count == 12
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=scaled(10)) == 0

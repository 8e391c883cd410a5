"""``python -m sinks.nightscout.testserver`` as a separate process."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx

from tests.sinks.nightscout.testserver.support import API_SECRET, Caller, entry
from tests.timing import scaled


async def test_process_prints_url_and_token_and_stops_on_sigterm(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sinks.nightscout.testserver",
        "--port",
        "0",
        "--api-secret",
        API_SECRET,
        "--token-out",
        str(token_file),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), scaled(10))).decode().strip()
        token = (await asyncio.wait_for(process.stdout.readline(), scaled(10))).decode().strip()
        assert url.startswith("http://127.0.0.1:")
        assert token_file.read_text().strip() == token
        async with httpx.AsyncClient(base_url=url) as client:
            granted = await client.get(f"/api/v2/authorization/request/{token}")
            assert granted.json()["sub"] == "nightstream-uploader"
            caller = Caller(client, granted.json()["token"])
            assert (await caller.put("entries", "from-process", entry())).status_code == 201
            assert (await caller.put("entries", "from-process", entry())).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), scaled(10)) == 0


async def test_process_refuses_a_short_secret() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sinks.nightscout.testserver",
        "--api-secret",
        "short",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _stdout, stderr = await asyncio.wait_for(process.communicate(), scaled(10))
    assert process.returncode == 2
    assert b"12" in stderr

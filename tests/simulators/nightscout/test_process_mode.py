"""``python -m nightstream.simulators.nightscout`` as a separate process."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import httpx

from nightstream.simulators.nightscout.auth import sha1_hex
from tests.simulators.nightscout.support import API_SECRET, Caller, entry
from tests.timing import scaled


async def test_process_prints_url_and_token_and_stops_on_sigterm(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nightstream.simulators.nightscout",
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
        "nightstream.simulators.nightscout",
        "--api-secret",
        "short",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _stdout, stderr = await asyncio.wait_for(process.communicate(), scaled(10))
    assert process.returncode == 2
    assert b"12" in stderr


async def test_process_hosts_many_sites_each_with_its_own_token(tmp_path: Path) -> None:
    listing_file = tmp_path / "sites.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nightstream.simulators.nightscout",
        "--sites",
        "3",
        "--sites-out",
        str(listing_file),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip()
        assert (await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip() == str(
            listing_file
        )
        sites = json.loads(listing_file.read_text())
        assert sorted(sites) == ["site-00000", "site-00001", "site-00002"]
        async with httpx.AsyncClient() as client:
            for name, site in sites.items():
                assert site["url"] == f"{url}/site/{name}"
                granted = await client.get(
                    f"{site['url']}/api/v2/authorization/request/{site['token']}"
                )
                caller = Caller(client, granted.json()["token"])
                written = await client.put(
                    f"{site['url']}/api/v3/entries/only-in-{name}",
                    json=entry(),
                    headers=caller.headers(),
                )
                assert written.status_code == 201
            first, second = sites["site-00000"], sites["site-00001"]
            held = await client.get(
                f"{second['url']}/__testserver/documents/entries",
                headers={"api-secret": sha1_hex(second["api_secret"])},
            )
            assert [d["identifier"] for d in held.json()] == ["only-in-site-00001"]
            refused = await client.get(
                f"{second['url']}/api/v2/authorization/request/{first['token']}"
            )
            assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0

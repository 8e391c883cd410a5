"""The simulator as a process, as the demo runs it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx

from nightstream.sources.librelinkup.client import LibreLinkUpClient
from nightstream.sources.librelinkup.hosts import llu_hosts
from tests.timing import scaled

REPO_ROOT = Path(__file__).resolve().parents[3]


ARGUMENTS = (
    "-m", "nightstream.simulators.librelinkup", "--json", "--port", "0", "--seed", "1",
    "--accounts", "2", "--patients", "2", "--region", "eu", "--region", "us", "--speed", "60",
)  # fmt: skip


async def test_process_prints_a_server_url_and_accounts_that_work(
    http: httpx.AsyncClient,
) -> None:
    pipe = asyncio.subprocess.PIPE
    process = await asyncio.create_subprocess_exec(
        sys.executable, *ARGUMENTS, cwd=REPO_ROOT, stdout=pipe
    )
    try:
        assert process.stdout is not None
        described = json.loads(
            await asyncio.wait_for(process.stdout.readline(), timeout=scaled(10))
        )
        assert described["server_url"].endswith("/{region}")
        assert [a["region"] for a in described["accounts"]] == ["eu", "us"]
        for account in described["accounts"]:
            client = LibreLinkUpClient(
                link_id="demo",
                email=account["email"],
                password=account["password"],
                hosts=llu_hosts(described["server_url"]),
                http=http,
            )
            patients = await client.patients()
            assert [p.patient_id for p in patients] == account["patient_ids"]
            assert client.region == account["region"]
            assert (await client.graph(account["patient_ids"][1])).reply.http_status == 200
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=scaled(10)) == 0

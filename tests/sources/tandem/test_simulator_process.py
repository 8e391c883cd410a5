"""The simulator as a process, as a demo runs it."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path

from nightstream.sources.tandem.client import TandemSourceClient
from nightstream.sources.tandem.protocol import tandem_hosts

REPO_ROOT = Path(__file__).resolve().parents[3]
ARGUMENTS = (
    "-m", "nightstream.simulators.tandem", "--json", "--port", "0", "--seed", "1",
    "--accounts", "2", "--region", "us", "--region", "eu", "--speed", "60",
)  # fmt: skip


async def test_process_prints_a_server_url_and_accounts_that_work() -> None:
    pipe = asyncio.subprocess.PIPE
    process = await asyncio.create_subprocess_exec(
        sys.executable, *ARGUMENTS, cwd=REPO_ROOT, stdout=pipe
    )
    try:
        assert process.stdout is not None
        described = json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=10))
        assert [a["region"] for a in described["accounts"]] == ["us", "eu"]
        for account in described["accounts"]:
            client = TandemSourceClient(
                link_id="demo",
                email=account["email"],
                password=account["password"],
                hosts=tandem_hosts(account["region"], described["server_url"]),
            )
            pumps = await client.pumps()
            assert [p.serial for p in pumps] == [p["serial"] for p in account["pumps"]]
            answer = await client.pump_logs(pumps[0], date(2026, 1, 5), date(2026, 1, 5))
            assert answer.status == 200
            assert len(json.loads(answer.body)["events"]) > 500
            await client.aclose()
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0

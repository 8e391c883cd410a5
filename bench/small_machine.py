"""One person's setup at rest: memory and CPU of the broker and of ``nightstream run``.

    python -m bench.small_machine --broker own --idle-minutes 5

One Dexcom Share link (nightscout-connect's CONNECT_* variables, as a person moving from it
sets them) feeding one Nightscout test server; both simulators run in this process and are not
measured. ``--broker``:

- ``own``: ``nightstream run`` with no Kafka configured starts its own broker (the small
  profile): what ``pipx install nightstream`` plus Java gives a person;
- ``small`` / ``dev``: a broker started beforehand with that profile, named to ``run`` through
  NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS (``dev`` is the broker as the demo ran it before: 512 MB
  G1 heap, test-speed housekeeping).

Once the first poll's 288 readings are in Nightscout and a settling minute has passed, CPU
seconds (user + system, /proc/<pid>/stat) are taken over ``--idle-minutes`` (the link polls
every 5 minutes, so 5 covers one poll) and RSS is sampled every 10 s. Results go to
bench/results/small_machine_<broker>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import child_env, machine, table, wait_until, write_results
from nightstream.demo import count_landed
from nightstream.local_kafka.broker import BrokerOptions, LocalBroker
from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.nightscout import NightscoutTestServer

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_S = 60.0
SAMPLE_S = 10.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


async def measure(pids: dict[str, int], minutes: float) -> dict[str, Any]:
    start = {name: cpu_seconds(pid) for name, pid in pids.items()}
    peaks = {name: 0.0 for name in pids}
    began = time.monotonic()
    while time.monotonic() - began < minutes * 60:
        for name, pid in pids.items():
            peaks[name] = max(peaks[name], rss_mb(pid))
        await asyncio.sleep(SAMPLE_S)
    elapsed_min = (time.monotonic() - began) / 60
    figures = {}
    for name, pid in pids.items():
        end = rss_mb(pid)
        figures[name] = {
            "cpu_s_per_idle_minute": round((cpu_seconds(pid) - start[name]) / elapsed_min, 3),
            "rss_mb_end": round(end, 1),
            "rss_mb_peak": round(max(peaks[name], end), 1),
        }
    return figures


async def bench(
    args: argparse.Namespace, workdir: Path, broker: LocalBroker | None
) -> dict[str, Any]:
    data = workdir / "data"
    env = child_env() | {"NIGHTSTREAM_DATA": str(data)}
    if broker is not None:
        env["NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS"] = broker.bootstrap
    site = NightscoutTestServer(api_secret=os.urandom(12).hex())
    await site.start()
    run: asyncio.subprocess.Process | None = None
    try:
        async with ShareSimulator(generate_accounts(1, seed=3), seed=3) as sim:
            [account] = sim.accounts
            token = site.create_access_token("nightstream", permissions=UPLOADER)
            env |= {
                "CONNECT_SOURCE": "dexcomshare",
                "CONNECT_SHARE_ACCOUNT_NAME": account.username,
                "CONNECT_SHARE_PASSWORD": account.password,
                "CONNECT_SHARE_SERVER": sim.base_url(account.region),
                "CONNECT_NIGHTSCOUT_ENDPOINT": site.url,
                "NIGHTSCOUT_TOKEN": token,
            }
            cli = [sys.executable, "-m", "nightstream.cli"]
            log = workdir / "run.log"
            if broker is not None:
                create = await asyncio.create_subprocess_exec(*cli, "topics", "create", env=env)
                assert await create.wait() == 0
            with log.open("wb") as out:
                run = await asyncio.create_subprocess_exec(
                    *cli, "run", env=env, stdout=out, stderr=out, cwd=workdir
                )

            async def all_landed() -> bool:
                assert run is not None
                if run.returncode is not None:
                    raise RuntimeError(f"run exited: {log.read_text()[-3000:]}")
                landed = await count_landed(site.url, token)
                return sum(n for n, _ in landed.values()) >= 288

            started = time.monotonic()
            await wait_until(all_landed, limit=600, what="the first poll's readings", interval=1)
            landed_s = time.monotonic() - started
            own = broker or LocalBroker(data / "kafka")
            broker_pid = own.pid()
            assert broker_pid is not None
            await asyncio.sleep(SETTLE_S)
            load_before = uptime()
            figures = await measure({"broker": broker_pid, "run": run.pid}, args.idle_minutes)
            return {
                "broker": args.broker,
                "idle_minutes": args.idle_minutes,
                "first_poll_landed_s": round(landed_s, 1),
                "uptime_before": load_before,
                "uptime_after": uptime(),
                "figures": figures,
                "machine": machine(),
            }
    finally:
        if run is not None and run.returncode is None:
            run.terminate()
            await asyncio.wait_for(run.wait(), 60)
        await site.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.small_machine")
    parser.add_argument("--broker", choices=["own", "small", "dev"], default="own")
    parser.add_argument("--idle-minutes", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-small-") as workdir:
        broker = None
        if args.broker != "own":
            broker = LocalBroker(Path(workdir) / "kafka", BrokerOptions(profile=args.broker))
            broker.start(lambda line: print(line, file=sys.stderr), attached=True)
        try:
            result = asyncio.run(bench(args, Path(workdir), broker))
        finally:
            if broker is not None:
                broker.stop()
    path = write_results(f"small_machine_{args.broker}", result)
    rows = [
        (f"{name} {key}", str(value))
        for name, values in result["figures"].items()
        for key, value in values.items()
    ]
    print(table([*rows, ("load", result["uptime_after"])]))
    print(f"written to {path}")


if __name__ == "__main__":
    main()

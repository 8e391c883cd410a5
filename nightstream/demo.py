"""The demo: the whole pipeline on this machine, with simulated patients.

    python -m nightstream.demo [--patients 3] [--libre-patients 1] [--exit-when-landed]

Starts a local Kafka broker (or uses KAFKA_BOOTSTRAP_SERVERS), a Dexcom Share simulator, a
LibreLinkUp simulator and the Nightscout v3 test server (or uses NIGHTSCOUT_URL and
NIGHTSCOUT_TOKEN), writes a config file, runs ``nightstream run`` on it, and reports what landed
in Nightscout per patient. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from nightstream.local_kafka.broker import BrokerError, BrokerOptions, LocalBroker
from nightstream.local_kafka.jars import JarFetchError
from nightstream.local_kafka.java import JavaMissing
from nightstream.local_kafka.paths import cache_root
from nightstream.local_kafka.processes import sigterm_unwinds
from nightstream.schemas.identity import device_name, stream_digest
from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.librelinkup import LluAccount, LluSimulator, SimOptions
from nightstream.simulators.librelinkup import generate_accounts as generate_libre_accounts
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.sources.librelinkup.hosts import REGION_PLACEHOLDER

UPLOADER_PERMISSIONS = ["api:*:create", "api:*:update", "api:*:read"]


def demo_dir() -> Path:
    """The demo's config, logs and broker: in the user cache directory, never in the package."""
    return cache_root() / "demo"


def _say(message: str) -> None:
    print(message, flush=True)


@contextlib.contextmanager
def local_kafka(data_dir: Path) -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, or a broker of the demo's own that is stopped when the block
    ends, whenever that is: during the jar fetch, the broker's start or the demo itself."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    broker = LocalBroker(data_dir, BrokerOptions(profile="small"))
    with sigterm_unwinds():
        try:
            _say("starting Kafka (the first run fetches its jars, about 50 MB, once) ...")
            try:
                bootstrap = broker.start(_say, attached=True)
            except (JavaMissing, BrokerError, JarFetchError) as exc:
                raise SystemExit(f"could not start the local Kafka broker: {exc}") from None
            yield bootstrap
        finally:
            if broker.pid() is not None:
                _say("stopping Kafka ...")
            broker.stop()


@dataclass(frozen=True)
class DemoPatient:
    link_id: str
    device: str
    expected_readings: int
    """What the first poll brings: Share's 24 h window, or LibreLinkUp's 12 h graph + current."""


def dexcom_patients(sim: ShareSimulator) -> list[DemoPatient]:
    return [
        DemoPatient(f"patient-{n}", device_name("dexcomshare", stream_digest(a.account_id)), 288)
        for n, a in enumerate(sim.accounts, start=1)
    ]


def libre_patients(sim: LluSimulator, accounts: Sequence[LluAccount]) -> list[DemoPatient]:
    now_ms = sim.clock.now_ms()
    patients = []
    for number, account in enumerate(accounts, start=1):
        patient = account.patients[0]
        feed = sim.service.feed(patient)
        patients.append(
            DemoPatient(
                f"libre-{number}",
                device_name("librelinkup", stream_digest(patient.patient_id)),
                len(feed.history(now_ms, sim.service.options.history_step_ms)) + 1,
            )
        )
    return patients


def write_config(
    path: Path,
    bootstrap: str,
    prefix: str,
    ns_url: str,
    token: str,
    sim: ShareSimulator,
    libre: tuple[LluSimulator, Sequence[LluAccount]],
) -> None:
    lines = [
        "# Written by the demo: the simulator's accounts feeding one Nightscout.",
        'log_level = "INFO"',
        "",
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        f'topic_prefix = "{prefix}"',
        "partitions = 3",
        "",
        "[targets.demo]",
        f'url = "{ns_url}"',
        f'token = "{token}"',
        "",
    ]
    for number, account in enumerate(sim.accounts, start=1):
        lines += [
            "[[links]]",
            f'id = "patient-{number}"',
            'vendor = "dexcomshare"',
            f'username = "{account.username}"',
            f'password = "{account.password}"',
            f'region = "{account.region}"',
            f'server_url = "{sim.base_url(account.region)}"',
            'targets = ["demo"]',
            "",
        ]
    libre_sim, libre_accounts = libre
    for number, libre_account in enumerate(libre_accounts, start=1):
        lines += [
            "[[links]]",
            f'id = "libre-{number}"',
            'vendor = "librelinkup"',
            f'username = "{libre_account.email}"',
            f'password = "{libre_account.password}"',
            f'region = "{libre_account.region}"',
            f'patient_id = "{libre_account.patients[0].patient_id}"',
            f'server_url = "{libre_sim.base_url(REGION_PLACEHOLDER)}"',
            'targets = ["demo"]',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)


async def count_landed(ns_url: str, token: str) -> dict[str, tuple[int, int]]:
    """Readings per device in Nightscout (through its API, as any client sees them), and
    how many of them repeat a (device, date) already seen."""
    async with httpx.AsyncClient(base_url=ns_url, timeout=30) as http:
        jwt = (await http.get(f"/api/v2/authorization/request/{token}")).json()["token"]
        headers = {"Authorization": f"Bearer {jwt}"}
        documents: dict[str, dict[str, object]] = {}
        last_modified = 946_684_800_000  # the server refuses dates before 2000
        while True:
            page = await http.get(
                f"/api/v3/entries/history/{last_modified}",
                params={"limit": 1000},
                headers=headers,
            )
            docs = page.json()["result"]
            new = [d for d in docs if d["identifier"] not in documents]
            documents.update((d["identifier"], d) for d in docs)
            if len(docs) < 1000 or not new:
                break
            # History pages with "srvModified > ms": documents sharing the last page's final
            # millisecond may not all be on it, so the next page starts one ms earlier.
            last_modified = max(int(d["srvModified"]) for d in docs) - 1
        seen: dict[str, set[int]] = {}
        totals: dict[str, int] = {}
        for doc in documents.values():
            if doc.get("isValid") is False:
                continue
            device = str(doc.get("device"))
            totals[device] = totals.get(device, 0) + 1
            seen.setdefault(device, set()).add(int(str(doc["date"])))
        return {d: (len(seen[d]), totals[d] - len(seen[d])) for d in totals}


async def serve(args: argparse.Namespace) -> int:
    demo_dir().mkdir(parents=True, exist_ok=True)
    sim = ShareSimulator(generate_accounts(args.patients, seed=args.seed), seed=args.seed)
    await sim.start()
    _say(f"Dexcom Share simulator: {sim.url} ({args.patients} patients, 24 h of history each)")
    libre_accounts = generate_libre_accounts(args.libre_patients, seed=args.seed)
    libre_sim = LluSimulator(libre_accounts, options=SimOptions(seed=args.seed))
    await libre_sim.start()
    _say(
        f"LibreLinkUp simulator: {libre_sim.url} ({args.libre_patients} patients, "
        "12 h graph + current reading each)"
    )
    ns_server: NightscoutTestServer | None = None
    ns_url = os.environ.get("NIGHTSCOUT_URL")
    token = os.environ.get("NIGHTSCOUT_TOKEN")
    if not (ns_url and token):
        ns_server = NightscoutTestServer(api_secret=secrets.token_hex(16))
        await ns_server.start()
        ns_url = ns_server.url
        token = ns_server.create_access_token("nightstream-demo", permissions=UPLOADER_PERMISSIONS)
        _say(f"Nightscout v3 test server: {ns_url}")
    else:
        _say(f"Nightscout: {ns_url}")
    prefix = f"demo{int(time.time())}"
    config = demo_dir() / "nightstream.toml"
    write_config(config, args.bootstrap, prefix, ns_url, token, sim, (libre_sim, libre_accounts))
    patients = {
        p.device: p for p in [*dexcom_patients(sim), *libre_patients(libre_sim, libre_accounts)]
    }
    _say(f"config written to {config}; starting `nightstream run --config {config}`")
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nightstream.cli",
        "topics",
        "create",
        "--config",
        str(config),
        stdout=subprocess.DEVNULL,
    )
    await run.wait()
    log_path = demo_dir() / "nightstream.log"
    with log_path.open("w") as log:
        pipeline = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nightstream.cli",
            "run",
            "--config",
            str(config),
            stdout=log,
            stderr=log,
        )
    _say(f"pipeline running (log: {log_path}); waiting for the readings to land ...")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    landed: dict[str, tuple[int, int]] = {}
    started = time.monotonic()
    try:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5)
            if pipeline.returncode is not None:
                _say(f"the pipeline exited with code {pipeline.returncode}; see {log_path}")
                return 1
            landed = await count_landed(ns_url, token)
            total = sum(n for n, _ in landed.values())
            _say(f"  {time.monotonic() - started:5.0f} s: {total} readings in Nightscout")
            if all(landed.get(d, (0, 0))[0] >= p.expected_readings for d, p in patients.items()):
                _report(landed, patients, prefix, config)
                if args.exit_when_landed:
                    return 0 if all(d == 0 for _, d in landed.values()) else 1
                _say("live: new readings arrive every 5 minutes. Ctrl-C stops everything.")
                break
            if time.monotonic() - started > args.timeout:
                _say(f"not everything landed within {args.timeout} s; see {log_path}")
                return 1
        await stop.wait()
        return 0
    finally:
        _say("stopping the pipeline ...")
        if pipeline.returncode is None:
            pipeline.terminate()
            try:
                await asyncio.wait_for(pipeline.wait(), timeout=30)
            except TimeoutError:
                pipeline.kill()
        if ns_server is not None:
            await ns_server.stop()
        await libre_sim.stop()
        await sim.stop()


def _report(
    landed: dict[str, tuple[int, int]], patients: dict[str, DemoPatient], prefix: str, config: Path
) -> None:
    _say("")
    _say("What landed in Nightscout, per patient:")
    for device, (readings, duplicates) in sorted(landed.items()):
        who = patients[device].link_id if device in patients else "?"
        _say(f"  {who:<10} {readings} readings, duplicates {duplicates}   (device {device})")
    _say("")
    _say("Read the topics (Avro, decoded to JSON):")
    command = _nightstream_command()
    _say(f"  {command} topics tail {prefix}.ns.entries --config {config} --limit 3")
    for vendor in ("dexcomshare", "librelinkup"):
        _say(f"  {command} topics tail {prefix}.raw.{vendor} --config {config} --limit 1")
    _say("")


def _nightstream_command() -> str:
    """How to run ``nightstream`` from here: the script beside this Python (a virtualenv's,
    not on PATH unless activated), else the one on PATH (pipx)."""
    beside = Path(sys.executable).parent / "nightstream"
    return str(beside) if beside.is_file() and not shutil.which("nightstream") else "nightstream"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nightstream.demo")
    parser.add_argument("--patients", type=int, default=3, help="Dexcom Share patients")
    parser.add_argument("--libre-patients", type=int, default=1, help="LibreLinkUp patients")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--exit-when-landed", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with local_kafka(demo_dir() / "kafka") as bootstrap:
            args.bootstrap = bootstrap
            _say(f"Kafka: {bootstrap}")
            return asyncio.run(serve(args))
    except KeyboardInterrupt:
        _say("stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""One person, one CGM: ``nightstream run`` with nightscout-connect's variables and no Kafka
configured runs its own broker, keeps it running, and takes it down when it stops."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from nightstream.demo import count_landed
from nightstream.local_kafka.broker import LocalBroker
from nightstream.local_kafka.processes import alive
from nightstream.own_broker import RESTART_LIMIT, OwnBroker, OwnBrokerError
from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.nightscout import NightscoutTestServer
from tests.integration.cli_runs import CliRun
from tests.jar_cache import cache_with_jars
from tests.timing import scaled

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]


async def _until(condition: Callable[[], object], within: float, what: str, run: CliRun) -> None:
    deadline = asyncio.get_running_loop().time() + scaled(within)
    while not condition():
        if run.process.poll() is not None or asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what}; nightstream's log:\n{run.stderr()[-4000:]}")
        await asyncio.sleep(0.2)


def _pid(broker: LocalBroker) -> int:
    pid = broker.pid()
    assert pid is not None
    return pid


async def test_run_starts_restarts_and_stops_its_own_broker(
    tmp_path: Path, nightscout: NightscoutTestServer
) -> None:
    data = tmp_path / "data"
    broker = LocalBroker(data / "kafka")
    async with ShareSimulator(generate_accounts(1, seed=13), seed=13) as sim:
        [account] = sim.accounts
        token = nightscout.create_access_token("sink", permissions=UPLOADER)
        env = {
            "CONNECT_SOURCE": "dexcomshare",
            "CONNECT_SHARE_ACCOUNT_NAME": account.username,
            "CONNECT_SHARE_PASSWORD": account.password,
            "CONNECT_SHARE_SERVER": sim.base_url(account.region),
            "CONNECT_NIGHTSCOUT_ENDPOINT": nightscout.url,
            "NIGHTSCOUT_TOKEN": token,
            "NIGHTSTREAM_DATA": str(data),
            "NIGHTSTREAM_CACHE": str(cache_with_jars(tmp_path)),
        }
        run = CliRun.start(tmp_path, "run", ["run"], env)
        try:
            await _until(lambda: "own Kafka" in run.stderr(), 180, "own-broker line", run)
            first = _pid(broker)
            assert f"data in {data / 'kafka' / 'data'}" in run.stderr()

            async def landed() -> int:
                return sum(n for n, _ in (await count_landed(nightscout.url, token)).values())

            deadline = asyncio.get_running_loop().time() + scaled(120)
            while await landed() < 288:  # Share's 24 h window
                assert asyncio.get_running_loop().time() < deadline, run.stderr()[-4000:]
                await asyncio.sleep(1)

            os.kill(first, signal.SIGKILL)
            await _until(lambda: "is back on" in run.stderr(), 180, "restart", run)
            second = _pid(broker)
            assert second != first

            run.signal(signal.SIGTERM)
            code = await run.wait(within=90)
            assert code == 0, run.stderr()[-4000:]
            assert not alive(second), "the restarted broker outlived nightstream run"
            assert "stopped the local Kafka broker" in run.stderr()
            assert broker.pid() is None
        finally:
            run.stop()
            broker.stop()


async def test_without_java_one_line_says_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "JAVA_HOME": "", "NIGHTSTREAM_DATA": str(tmp_path / "data")}
    run = CliRun.start(tmp_path, "run", ["run"], env)
    code = await run.wait(within=60)
    assert code != 0
    assert "Traceback" not in run.stderr()
    lines = [line for line in run.stderr().splitlines() if "Java" in line]
    assert len(lines) == 1, run.stderr()
    assert "needs Java" in lines[0]
    assert "openjdk" in lines[0]


def test_a_broker_that_keeps_dying_is_given_up_with_its_log(tmp_path: Path) -> None:
    own = OwnBroker(LocalBroker(tmp_path / "kafka"), "java", tmp_path)
    for _ in range(RESTART_LIMIT):
        own._restart_or_give_up(1)
    with pytest.raises(OwnBrokerError, match=f"exited {RESTART_LIMIT + 1} times") as given_up:
        own._restart_or_give_up(1)
    assert str(tmp_path / "kafka" / "broker.log") in str(given_up.value)


async def test_sigterm_while_its_broker_starts_leaves_none(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"NIGHTSTREAM_DATA": str(data), "NIGHTSTREAM_CACHE": str(cache_with_jars(tmp_path))}
    run = CliRun.start(tmp_path, "run", ["run"], env)
    pid_file = data / "kafka" / "broker.pid"
    await _until(pid_file.exists, 60, "broker.pid", run)
    broker_pid = int(pid_file.read_text())
    assert "own Kafka" not in run.stderr()  # still starting

    run.signal(signal.SIGTERM)
    code = await run.wait(within=40)

    assert code == 128 + signal.SIGTERM, run.stderr()
    assert not alive(broker_pid)
    assert not pid_file.exists()

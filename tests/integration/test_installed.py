"""The README's one-person path, from an install, not from the checkout. The wheel (built from
the sdist) goes into a fresh venv, first without extras (no aiohttp, no faust: the production
path must not need them), then with the ``simulators`` extra, which runs the Dexcom Share
simulator and the Nightscout test server; ``pipx install .`` (no extra: what a user gets) runs
``config check``, ``check-login``, ``topics create`` and ``run`` with nightscout-connect's
variables against them and the session's Kafka, from a folder outside the checkout."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.installed import (
    REPO,
    Served,
    build_wheel,
    fresh_venv,
    importable,
    installed_files,
    pip_install,
    run_to_end,
    site_packages,
    succeeded,
    v3_entries,
)
from tests.kafka_broker import unique_name
from tests.timing import scaled

SHARE_DAY = 288
"""Readings in Share's 24 h window, what the first poll of a simulated account brings."""
TOP_LEVEL_FOLDERS = ("schemas", "sources", "streams", "sinks", "simulators")


@dataclass(frozen=True)
class Installs:
    home: Path
    """A folder outside the checkout, where every command runs."""
    with_simulators: Path
    """The python of a fresh venv holding ``<wheel>[simulators]``."""
    by_pipx: Path
    """The bin folder where ``pipx install <checkout>`` put ``nightstream``."""
    timings: dict[str, float]
    wheel_without_extras: dict[str, bool]
    """What the wheel installed without extras had (``_production_only``)."""
    pipx_without_extras: dict[str, bool]


def _timed(timings: dict[str, float], step: str, started: float) -> float:
    timings[step] = round(time.monotonic() - started, 1)
    return time.monotonic()


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> Installs:
    home = tmp_path_factory.mktemp("user")
    assert not home.resolve().is_relative_to(REPO)
    timings: dict[str, float] = {}
    started = time.monotonic()
    wheel = build_wheel(tmp_path_factory.mktemp("dist"))
    started = _timed(timings, "build sdist + wheel", started)
    with_simulators = fresh_venv(home / "venv", str(wheel))
    started = _timed(timings, "venv + wheel", started)
    plain = _production_only(with_simulators, home)
    pip_install(with_simulators, f"{wheel}[simulators]")
    started = _timed(timings, "+ simulators extra", started)
    pipx = {name: str(home / "pipx" / name) for name in ("home", "bin", "man")}
    succeeded(
        [sys.executable, "-m", "pipx", "install", REPO],
        home,
        within=300,
        PIPX_HOME=pipx["home"],
        PIPX_BIN_DIR=pipx["bin"],
        PIPX_MAN_DIR=pipx["man"],
    )
    _timed(timings, "pipx install .", started)
    pipx_python = Path(pipx["home"]) / "venvs" / "nightstream" / "bin" / "python"
    pipx_only = _production_only(pipx_python, home)
    return Installs(home, with_simulators, Path(pipx["bin"]), timings, plain, pipx_only)


def _production_only(python: Path, home: Path) -> dict[str, bool]:
    """What an install without extras has: the simulators' and analytics' libraries (it must
    not), and a ``nightstream`` that answers ``--help``."""
    found = {module: importable(python, module, home) for module in ("aiohttp", "faust")}
    helped = run_to_end([python.parent / "nightstream", "--help"], home, within=30)
    return found | {"nightstream --help": helped.code == 0 and "topics" in helped.output}


def test_the_wheel_installs_the_nightstream_namespace_only(installs: Installs) -> None:
    print(f"install timings (s): {installs.timings}")
    files = installed_files(installs.with_simulators, "nightstream")
    tops = {path.split("/")[0] for path in files if not path.startswith("../")}
    assert tops == {"nightstream", "nightstream-0.1.0.dist-info"}
    assert sum(path.endswith(".avsc") for path in files) == len(
        list((REPO / "schemas" / "avro").glob("*/*.avsc"))
    )
    present = {entry.name for entry in site_packages(installs.with_simulators).iterdir()}
    assert present.isdisjoint(TOP_LEVEL_FOLDERS)
    [licence] = site_packages(installs.with_simulators).glob("nightstream-*/licenses/LICENSE")
    assert licence.read_bytes() == (REPO / "LICENSE").read_bytes()
    nightstream = installs.with_simulators.parent / "nightstream"
    assert "topics" in succeeded([nightstream, "--help"], installs.home, within=30).output


def test_installs_without_extras_have_no_simulator_or_analytics_library(
    installs: Installs,
) -> None:
    production_only = {"aiohttp": False, "faust": False, "nightstream --help": True}
    assert installs.wheel_without_extras == production_only
    assert installs.pipx_without_extras == production_only
    assert importable(installs.with_simulators, "aiohttp", installs.home)


@pytest.mark.kafka
@pytest.mark.timeout(600)
def test_one_person_path_from_the_installs(installs: Installs, kafka_bootstrap: str) -> None:
    python, home = installs.with_simulators, installs.home
    share_args = ["-m", "nightstream.simulators.dexcomshare", "--accounts", "1", "--json"]
    site_args = ["-m", "nightstream.simulators.nightscout", "--api-secret", os.urandom(12).hex()]
    with (
        Served.start([python, *share_args], home, "share") as share,
        Served.start([python, *site_args], home, "nightscout") as site,
    ):
        [account] = share.first_json()["accounts"]
        ns_url, token = site.first_lines(2)
        _one_person_path(
            installs.by_pipx / "nightstream", home, account, (ns_url, token), kafka_bootstrap
        )


def _one_person_path(
    nightstream: Path,
    home: Path,
    account: dict[str, str],
    site: tuple[str, str],
    kafka_bootstrap: str,
) -> None:
    ns_url, token = site
    env = {
        "CONNECT_SOURCE": "dexcomshare",
        "CONNECT_SHARE_ACCOUNT_NAME": account["username"],
        "CONNECT_SHARE_PASSWORD": account["password"],
        "CONNECT_SHARE_REGION": account["region"],
        "CONNECT_SHARE_SERVER": account["base_url"],
        "CONNECT_NIGHTSCOUT_ENDPOINT": ns_url,
        "NIGHTSCOUT_TOKEN": token,
        "NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NIGHTSTREAM_KAFKA__TOPIC_PREFIX": unique_name("installed"),
    }
    started = time.monotonic()
    for command in (["config", "check"], ["check-login"], ["topics", "create"]):
        finished = succeeded([nightstream, *command], home, within=120, **env)
        assert account["password"] not in finished.output
    with Served.start([nightstream, "run"], home, "run", env) as run:
        entries = _until_a_day_landed(run, site)
        landed = time.monotonic() - started
        code = run.stop(within=30)
    print(f"one-person path: {len(entries)} readings in {landed:.1f} s; run exited with {code}")
    assert len(entries) >= SHARE_DAY, run.output()
    dates = {(entry["device"], entry["date"]) for entry in entries}
    assert len(dates) == len(entries), "a reading landed twice"
    assert {device for device, _ in dates} == {entries[0]["device"]}
    assert entries[0]["device"].startswith("nightstream://dexcomshare/")
    assert code == 0, run.output()
    assert "Traceback" not in run.output()
    assert account["password"] not in run.output()


def _until_a_day_landed(run: Served, site: tuple[str, str]) -> list[dict[str, Any]]:
    """The site's entries once Share's day landed, or when the wait is over."""
    deadline = time.monotonic() + scaled(240)
    entries = v3_entries(*site)
    while len(entries) < SHARE_DAY and time.monotonic() < deadline:
        assert run.process.poll() is None, run.output()
        time.sleep(1)
        entries = v3_entries(*site)
    return entries

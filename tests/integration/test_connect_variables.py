"""A nightscout-connect setup moved as it is: its documented variables, no config file and no
link id, for each source both support; ``check-login`` logs in once against the simulators."""

from __future__ import annotations

import uuid
from pathlib import Path

from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.librelinkup import LluAccount, LluSimulator, SimPatient
from nightstream.sources.librelinkup.hosts import REGION_PLACEHOLDER
from tests.integration.cli_runs import CliRun

SITE = {"CONNECT_NIGHTSCOUT_ENDPOINT": "https://ns.example.org", "CONNECT_API_SECRET": "s" * 12}


async def _check_login(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[int, str]:
    run = CliRun.start(tmp_path, name, ["check-login"], env)
    code = await run.wait(within=60)
    assert "Traceback" not in run.stderr(), run.stderr()
    for variable in ("CONNECT_SHARE_PASSWORD", "CONNECT_LINK_UP_PASSWORD"):
        if variable in env:
            assert env[variable] not in run.stdout() + run.stderr()
    return code, run.stdout() + run.stderr()


async def test_dexcomshare_variables(tmp_path: Path) -> None:
    async with ShareSimulator(generate_accounts(1, seed=5), seed=5) as sim:
        [account] = sim.accounts
        env = SITE | {
            "CONNECT_SOURCE": "dexcomshare",
            "CONNECT_SHARE_ACCOUNT_NAME": account.username,
            "CONNECT_SHARE_PASSWORD": account.password,
            "CONNECT_SHARE_REGION": account.region,
            "CONNECT_SHARE_SERVER": sim.base_url(account.region),
        }
        code, output = await _check_login(tmp_path, "dexcom", env)
        assert code == 0, output
        assert sim.counters_for(account.username).sessions_issued == 1
        wrong = env | {"CONNECT_SHARE_PASSWORD": "not-it"}
        code, output = await _check_login(tmp_path, "dexcom-wrong", wrong)
        assert code == 1, output


async def test_linkup_variables(tmp_path: Path) -> None:
    patient = SimPatient(str(uuid.uuid5(uuid.NAMESPACE_URL, "nightstream-it/cv")), "Cy")
    account = LluAccount("cy@example.com", "pw-cy-1", region="eu", patients=(patient,))
    async with LluSimulator([account]) as sim:
        env = SITE | {
            "CONNECT_SOURCE": "linkup",
            "CONNECT_LINK_UP_USERNAME": account.email,
            "CONNECT_LINK_UP_PASSWORD": account.password,
            "CONNECT_LINK_UP_REGION": "EU",
            "CONNECT_LINK_UP_SERVER": sim.base_url(REGION_PLACEHOLDER),
            "CONNECT_LINK_UP_PATIENT_ID": patient.patient_id,
            "CONNECT_LINK_UP_INTERVAL": "1",
        }
        code, output = await _check_login(tmp_path, "linkup", env)
        assert code == 0, output
        assert patient.patient_id in output

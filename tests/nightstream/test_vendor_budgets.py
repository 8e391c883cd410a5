"""The request budget per vendor host is configuration: file, environment, validation, wiring."""

from __future__ import annotations

from pathlib import Path

import pytest

from nightstream.config import load_settings
from nightstream.config_errors import ConfigError
from nightstream.roles import build_poller, vendor_budgets
from nightstream.sources.http_pools import DEFAULT_BUDGET, HostBudget
from nightstream.sources.runner import PollerOptions


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "nightstream.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_budgets_come_from_the_file_and_the_environment_over_it(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "[vendors.dexcomshare]\nrequests_per_second = 100\nmax_in_flight = 32\n"
        "[vendors.librelinkup]\nmax_in_flight = 8\n",
    )
    env = {"NIGHTSTREAM_VENDORS__LIBRELINKUP__REQUESTS_PER_SECOND": "12.5"}
    budgets = vendor_budgets(load_settings(env, config))
    assert budgets == {
        "dexcomshare": HostBudget(100, 32),
        "librelinkup": HostBudget(12.5, 8),
        "tandem": DEFAULT_BUDGET,
    }


def test_the_default_is_the_documented_budget() -> None:
    assert set(vendor_budgets(load_settings({})).values()) == {HostBudget(50, 16)}


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ("[vendors.dexcomshare]\nrequests_per_second = 0\n", "requests_per_second"),
        ("[vendors.tandem]\nmax_in_flight = 0\n", "max_in_flight"),
        ("[vendors.dexcom]\nmax_in_flight = 4\n", "dexcom"),
        ("[vendors.librelinkup]\nburst = 4\n", "burst"),
    ],
)
def test_a_wrong_budget_is_refused(tmp_path: Path, toml: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        load_settings({}, _config(tmp_path, toml))


def test_a_misspelt_vendor_variable_is_refused_with_the_name_meant() -> None:
    # Built, so that the project's own list of the variables it reads does not hold it.
    misspelt = "NIGHTSTREAM_VENDORS__" + "DEXCOM__REQUESTS_PER_SECOND"
    with pytest.raises(ConfigError, match=misspelt):
        load_settings({misspelt: "75"})


def test_the_poller_s_pools_use_the_configured_budgets() -> None:
    env = {"NIGHTSTREAM_VENDORS__DEXCOMSHARE__REQUESTS_PER_SECOND": "75"}
    poller = build_poller(load_settings(env), PollerOptions(dry_run=True))
    assert poller.pools.budget_of("dexcomshare") == HostBudget(75, 16)
    assert poller.pools.budget_of("tandem") == DEFAULT_BUDGET

"""nightscout-connect's variables as its documentation gives them, read in process."""

from __future__ import annotations

import pytest

from nightstream.config import load_settings
from nightstream.config_errors import ConfigError, SettingsInvalid

SITE = {"CONNECT_NIGHTSCOUT_ENDPOINT": "https://ns.example.org", "NIGHTSCOUT_TOKEN": "up-0123"}
DEXCOM = {
    "CONNECT_SOURCE": "dexcomshare",
    "CONNECT_SHARE_ACCOUNT_NAME": "alice@example.org",
    "CONNECT_SHARE_PASSWORD": "pw-alice",
} | SITE
LINKUP = {
    "CONNECT_SOURCE": "linkup",
    "CONNECT_LINK_UP_USERNAME": "bob@example.org",
    "CONNECT_LINK_UP_PASSWORD": "pw-bob",
} | SITE


@pytest.mark.parametrize(
    ("server", "region", "server_url"),
    [
        ("share2.dexcom.com", "us", None),
        ("shareous1.dexcom.com", "ous", None),
        ("share.dexcom.jp", "jp", None),
        ("share-proxy.example.org", "us", "https://share-proxy.example.org"),
        ("http://127.0.0.1:8080/us", "us", "http://127.0.0.1:8080/us"),
    ],
)
def test_share_server_is_a_host_name(server: str, region: str, server_url: str | None) -> None:
    [link] = load_settings(DEXCOM | {"CONNECT_SHARE_SERVER": server}).links
    assert (link.region, link.server_url) == (region, server_url)


def test_link_up_server_interval_region_and_patient() -> None:
    env = LINKUP | {
        "CONNECT_LINK_UP_SERVER": "api-eu.libreview.io",
        "CONNECT_LINK_UP_INTERVAL": "1",
        "CONNECT_LINK_UP_REGION": "EU",
        "CONNECT_LINK_UP_PATIENT_ID": "8f1c0000-0000-0000-0000-000000000001",
    }
    [link] = load_settings(env).links
    assert link.vendor == "librelinkup"
    assert link.server_url == "https://api-eu.libreview.io"
    assert link.poll_interval_seconds == 60
    assert link.region == "eu"
    assert link.patient_id == "8f1c0000-0000-0000-0000-000000000001"


@pytest.mark.parametrize("minutes", ["0", "61", "often"])
def test_an_interval_out_of_range_names_the_variable(minutes: str) -> None:
    with pytest.raises(ConfigError, match=r"CONNECT_LINK_UP_INTERVAL=.* minutes from 1 to 60"):
        load_settings(LINKUP | {"CONNECT_LINK_UP_INTERVAL": minutes})


def test_the_api_secret_makes_a_v1_target_and_a_token_wins() -> None:
    secret = {"CONNECT_API_SECRET": "a-secret-of-12-chars"}
    without_token = {k: v for k, v in DEXCOM.items() if k != "NIGHTSCOUT_TOKEN"} | secret
    target = load_settings(without_token).targets["default"]
    assert target.api_version == "v1"
    assert target.api_secret is not None
    assert target.api_secret.get_secret_value() == "a-secret-of-12-chars"
    assert load_settings(DEXCOM | secret).targets["default"].api_version == "v3"


def test_problems_speak_the_variables_to_a_variables_only_setup() -> None:
    env = {k: v for k, v in DEXCOM.items() if k != "CONNECT_SHARE_PASSWORD"}
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(env | {"CONNECT_NIGHTSCOUT_ENDPOINT": "ns example"})
    keys = sorted(problem.split(": ")[0] for problem in refused.value.problems)
    assert keys == [
        "CONNECT_NIGHTSCOUT_ENDPOINT (targets.default.url)",
        "CONNECT_SHARE_PASSWORD (links[0].password)",
    ]

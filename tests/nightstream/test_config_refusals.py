"""Settings refused before anything runs, in process (the CLI's wording is in
test_config_errors.py): each says which key or variable, and what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nightstream.config import load_settings, settings_sections
from nightstream.config_errors import ConfigError, SettingsInvalid
from nightstream.env_names import unknown_variables

REPO = Path(__file__).resolve().parents[2]
FILE = """
[targets.home]
url = "https://ns.example.org"
token = "uploader-0123456789abcd"

[[links]]
id = "alice-dexcom"
vendor = "dexcomshare"
username = "alice@example.org"
password = "pw-alice-7d1c"
targets = ["home"]
"""
CONNECT = {
    "CONNECT_SOURCE": "dexcomshare",
    "CONNECT_SHARE_ACCOUNT_NAME": "bob@example.org",
    "CONNECT_SHARE_PASSWORD": "pw-bob",
    "CONNECT_NIGHTSCOUT_ENDPOINT": "https://ns.example.org",
    "NIGHTSCOUT_TOKEN": "uploader-0123456789abcd",
}


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> None:
    path = tmp_path / "nightstream.toml"
    path.write_text(text, encoding="utf-8")
    load_settings(env or {}, path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SettingsInvalid) as refused:
        _load(tmp_path, text)
    return refused.value.problems


def test_the_file_is_valid(tmp_path: Path) -> None:
    _load(tmp_path, FILE)


def test_an_empty_or_missing_password_is_refused_naming_the_link(tmp_path: Path) -> None:
    empty = FILE.replace('password = "pw-alice-7d1c"', 'password = ""')
    assert [p.split(";")[0] for p in _problems(tmp_path, empty)] == [
        "links[0] (alice-dexcom).password: is empty"
    ]
    missing = FILE.replace('password = "pw-alice-7d1c"\n', "")
    assert [p.split(";")[0] for p in _problems(tmp_path, missing)] == [
        "links[0] (alice-dexcom).password: is required but not set"
    ]


def test_a_url_with_a_space_is_refused(tmp_path: Path) -> None:
    spaced = FILE.replace("https://ns.example.org", "https://ns.example .org")
    [problem] = _problems(tmp_path, spaced)
    assert problem.startswith("targets.home.url: must be an http(s) URL")
    server = FILE.replace('targets = ["home"]', 'targets = ["home"]\nserver_url = "http://a b/"')
    [problem] = _problems(tmp_path, server)
    assert problem.startswith("links[0] (alice-dexcom).server_url: must be an http(s) URL")


def test_target_for_targets_gets_a_suggestion(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, FILE.replace("[targets.home]", "[target.home]"))
    assert problem.startswith("target: is not a known setting")
    assert "(did you mean targets?)" in problem


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is empty"):
        _load(tmp_path, "# nothing yet\n")


def test_connect_variables_do_not_replace_the_files_links(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"CONNECT_SOURCE is set and the config file has 1"):
        _load(tmp_path, FILE, CONNECT)
    kafka_only = '[kafka]\nbootstrap_servers = "kafka-1:9092"\n'
    path = tmp_path / "kafka.toml"
    path.write_text(kafka_only, encoding="utf-8")
    settings = load_settings(CONNECT, path)
    assert [link.id for link in settings.links] == ["dexcomshare-1"]
    assert settings.kafka.bootstrap_servers == "kafka-1:9092"


def test_unknown_nightstream_variables_are_refused_with_the_closest_name() -> None:
    env = {
        "NIGHTSTREAM_KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092",
        "NIGHTSTREAM_KAFKA__PARTITION": "3",
        "NIGHTSTREAM_KAFKA__PARTITIONS": "3",
        "NIGHTSTREAM_TARGETS__HOME__URL": "https://ns.example.org",
    }
    with pytest.raises(ConfigError) as refused:
        load_settings(env)
    message = str(refused.value)
    assert (
        "NIGHTSTREAM_KAFKA_BOOTSTRAP_SERVERS (did you mean NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS?)"
        in message
    )
    assert "NIGHTSTREAM_KAFKA__PARTITION (did you mean NIGHTSTREAM_KAFKA__PARTITIONS?)" in message
    assert "NIGHTSTREAM_KAFKA__PARTITIONS " not in message + " "
    assert "NIGHTSTREAM_TARGETS__HOME__URL" not in message


def test_every_nightstream_variable_the_project_reads_is_known() -> None:
    this_file = Path(__file__).resolve()
    sources = [*REPO.glob("[!.]*/**/*.py"), *REPO.glob("compose/**/*"), REPO / "Makefile"]
    text = "\n".join(
        p.read_text(errors="replace") for p in sources if p.is_file() and p != this_file
    )
    names = set(re.findall(r"\bNIGHTSTREAM_[A-Z0-9_]*[A-Z0-9]\b", text))
    assert {"NIGHTSTREAM_CONFIG", "NIGHTSTREAM_LINKS_KEY", "NIGHTSTREAM_REPLAY_TOKEN"} <= names
    assert unknown_variables(dict.fromkeys(names, ""), settings_sections()) == []

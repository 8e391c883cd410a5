"""Wrong settings through the real CLI, as a user meets them: one clear message naming the key
and the fix, a non-zero exit, and never a traceback or a hang."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nightstream.broker_probe import PROBE_SECONDS
from tests.timing import scaled

Toml = dict[str, Any]
CLI_TIMEOUT_S = scaled(60)
# Roles that need Kafka, and the arguments that start them.
KAFKA_COMMANDS = (
    ("run",),
    ("process",),
    ("poll",),
    ("poll", "--once"),
    ("sink",),
    ("topics", "create"),
    ("topics", "tail", "x.dlq"),
)
CONFIG_COMMANDS = (("config", "check"), *KAFKA_COMMANDS)


def base_config() -> Toml:
    return {
        "kafka": {"bootstrap_servers": "127.0.0.1:9092", "topic_prefix": "ns-test"},
        "targets": {"home": {"url": "https://ns.example.org", "token": "uploader-0123456789abcd"}},
        "links": [
            {
                "id": "alice-dexcom",
                "vendor": "dexcomshare",
                "username": "alice@example.org",
                "password": "pw-alice-7d1c",
                "region": "ous",
                "targets": ["home"],
            }
        ],
    }


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_text(config: Toml) -> str:
    lines: list[str] = []
    for section, content in config.items():
        if section == "links":
            for link in content:
                lines.append("[[links]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in link.items()]
        elif section == "targets":
            for name, target in content.items():
                lines.append(f"[targets.{name}]")
                lines += [f"{k} = {toml_value(v)}" for k, v in target.items()]
        elif isinstance(content, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in content.items()]
        else:
            lines.insert(0, f"{section} = {toml_value(content)}")
    return "\n".join(lines) + "\n"


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any nightstream or nightscout-connect setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NIGHTSTREAM_", "CONNECT_", "NIGHTSCOUT_"))
    }
    return env | extra


@dataclass
class Outcome:
    returncode: int
    output: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]

    @property
    def problems(self) -> list[str]:
        return [line.removeprefix("  - ") for line in self.lines if line.startswith("  - ")]


def nightstream(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Outcome:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "nightstream.cli", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        cwd=cwd,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    return Outcome(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def assert_user_error(outcome: Outcome) -> None:
    assert outcome.returncode != 0, outcome.output
    assert "Traceback" not in outcome.output, outcome.output
    assert outcome.lines[-1].startswith(("Error:", "  - ")), outcome.output


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[Toml], Path]:
    def write(config: Toml) -> Path:
        path = tmp_path / "nightstream.toml"
        path.write_text(toml_text(config), encoding="utf-8")
        return path

    return write


@dataclass(frozen=True)
class WrongSetting:
    label: str
    spoil: Callable[[Toml], None]
    key: str
    says: tuple[str, ...]
    """Words the message must hold: what is wrong and how to fix it."""
    fix: tuple[str, ...] = field(default_factory=tuple)
    """Words the example after "for example:" must hold."""


def _link(config: Toml) -> dict[str, Any]:
    link: dict[str, Any] = config["links"][0]
    return link


def _set_link(name: str, value: Any) -> Callable[[Toml], None]:
    return lambda config: _link(config).__setitem__(name, value)


def _set_target(name: str, value: Any) -> Callable[[Toml], None]:
    return lambda config: config["targets"]["home"].__setitem__(name, value)


def _drop_token(config: Toml) -> None:
    del config["targets"]["home"]["token"]


def _llu_with_region(config: Toml) -> None:
    _link(config).update(vendor="librelinkup", region="mars")


def _tandem_without_zone(config: Toml) -> None:
    _link(config).update(vendor="tandem", region="us")


def _tandem_with_region(config: Toml) -> None:
    _link(config).update(vendor="tandem", region="jp", timezone="Asia/Tokyo")


def _second_link_same_id(config: Toml) -> None:
    config["links"].append(dict(_link(config)))


def _v1_without_secret(config: Toml) -> None:
    config["targets"]["home"]["api_version"] = "v1"


WRONG_SETTINGS = [
    WrongSetting(
        "missing token",
        _drop_token,
        "targets.home.token",
        ("access token",),
        ('token = "', "NIGHTSCOUT_TOKEN", "api:*:create"),
    ),
    WrongSetting(
        "Nightscout URL without scheme",
        _set_target("url", "ns.example.org"),
        "targets.home.url",
        ("http(s) URL",),
        ('url = "https://',),
    ),
    WrongSetting(
        "Nightscout URL not http",
        _set_target("url", "ftp://ns.example.org"),
        "targets.home.url",
        ("http(s) URL",),
        ('url = "https://',),
    ),
    WrongSetting(
        "v1 without API secret",
        _v1_without_secret,
        "targets.home.api_secret",
        ("API secret",),
        ("api_secret = ",),
    ),
    WrongSetting(
        "unknown vendor",
        _set_link("vendor", "carelink"),
        "links[0] (alice-dexcom).vendor",
        ("dexcomshare", "librelinkup"),
        ('vendor = "dexcomshare"',),
    ),
    WrongSetting(
        "Dexcom region",
        _set_link("region", "eu"),
        "links[0] (alice-dexcom).region",
        ("'eu'", "us, ous, jp"),
        ('region = "',),
    ),
    WrongSetting(
        "LibreLinkUp region",
        _llu_with_region,
        "links[0] (alice-dexcom).region",
        ("'mars'", "librelinkup", "eu"),
        ('region = "',),
    ),
    WrongSetting(
        "Tandem region",
        _tandem_with_region,
        "links[0] (alice-dexcom).region",
        ("'jp'", "tandem", "us, eu"),
        ('region = "',),
    ),
    WrongSetting(
        "Tandem link without the pump clock's zone",
        _tandem_without_zone,
        "links[0] (alice-dexcom).timezone",
        ("Tandem pump's clock has no zone",),
        ('timezone = "Europe/Paris"',),
    ),
    WrongSetting(
        "time zone",
        _set_link("timezone", "Mars/Olympus_Mons"),
        "links[0] (alice-dexcom).timezone",
        ("'Mars/Olympus_Mons'", "IANA"),
        ('timezone = "Europe/Paris"',),
    ),
    WrongSetting(
        "link to an unknown target",
        _set_link("targets", ["home", "clinic"]),
        "links[0] (alice-dexcom).targets",
        ("'clinic'", "defined: home"),
        ("targets = [",),
    ),
    WrongSetting(
        "target that no link names",
        lambda config: config["targets"].__setitem__(
            "orphan", {"url": "https://orphan.example.org", "token": "uploader-0123456789abcd"}
        ),
        "targets.orphan",
        ("'orphan'", "named by no link", "remove [targets.orphan]"),
        ('targets = ["orphan"] in a [[links]] entry',),
    ),
    WrongSetting(
        "two links with one id",
        _second_link_same_id,
        "links[1] (alice-dexcom).id",
        ("'alice-dexcom'", "earlier link"),
        ('id = "',),
    ),
    WrongSetting(
        "link id with capitals",
        _set_link("id", "Alice Dexcom"),
        "links[0] (Alice Dexcom).id",
        ("lower-case",),
        ('id = "',),
    ),
    WrongSetting(
        "vendor server URL",
        _set_link("server_url", "share.example.org"),
        "links[0] (alice-dexcom).server_url",
        ("http(s) URL",),
        ('server_url = "http',),
    ),
    WrongSetting(
        "bootstrap servers",
        lambda config: config["kafka"].__setitem__("bootstrap_servers", "kafka-1"),
        "kafka.bootstrap_servers",
        ("host:port",),
        ('bootstrap_servers = "127.0.0.1:9092"',),
    ),
    WrongSetting(
        "partitions",
        lambda config: config["kafka"].__setitem__("partitions", 0),
        "kafka.partitions",
        ("greater than or equal to 1",),
        ("partitions = 6",),
    ),
    WrongSetting(
        "log level",
        lambda config: config.__setitem__("log_level", "LOUD"),
        "log_level",
        ("'INFO'",),
        ('log_level = "INFO"',),
    ),
    WrongSetting(
        "misspelled key",
        lambda config: config["targets"]["home"].__setitem__("tokn", "x"),
        "targets.home.tokn",
        ("not a known setting", "spelling"),
    ),
]


def test_the_base_configuration_is_valid(write_config: Callable[[Toml], Path]) -> None:
    """The cases below spoil exactly one setting of this one; it must pass as it is."""
    outcome = nightstream("config", "check", "--config", str(write_config(base_config())))
    assert outcome.returncode == 0, outcome.output
    assert "configuration is valid: 1 link(s), 1 target(s)" in outcome.output


@pytest.mark.parametrize("wrong", WRONG_SETTINGS, ids=[w.label for w in WRONG_SETTINGS])
def test_one_wrong_setting_gives_one_message_naming_key_and_fix(
    wrong: WrongSetting, write_config: Callable[[Toml], Path]
) -> None:
    config = base_config()
    wrong.spoil(config)
    outcome = nightstream("config", "check", "--config", str(write_config(config)))
    assert_user_error(outcome)
    assert outcome.lines[0] == "Error: configuration is not valid:", outcome.output
    assert len(outcome.problems) == 1, outcome.output
    (problem,) = outcome.problems
    assert problem.startswith(f"{wrong.key}: "), problem
    message, _, example = problem.partition("; for example: ")
    for words in wrong.says:
        assert words in message, problem
    for words in wrong.fix:
        assert words in example, problem


@pytest.mark.parametrize("command", CONFIG_COMMANDS, ids=" ".join)
def test_every_command_explains_a_wrong_setting_before_doing_anything(
    command: tuple[str, ...], write_config: Callable[[Toml], Path]
) -> None:
    config = base_config()
    _drop_token(config)
    outcome = nightstream(*command, "--config", str(write_config(config)))
    assert_user_error(outcome)
    assert len(outcome.problems) == 1, outcome.output
    assert outcome.problems[0].startswith("targets.home.token: "), outcome.output


@dataclass(frozen=True)
class EnvCase:
    label: str
    env: dict[str, str]
    says: tuple[str, ...]


CONNECT_DEXCOM = {
    "CONNECT_SOURCE": "dexcomshare",
    "CONNECT_SHARE_ACCOUNT_NAME": "alice@example.org",
    "CONNECT_SHARE_PASSWORD": "pw-alice-7d1c",
    "CONNECT_NIGHTSCOUT_ENDPOINT": "https://ns.example.org",
    "NIGHTSCOUT_TOKEN": "uploader-0123456789abcd",
}
ENV_CASES = [
    EnvCase(
        "unknown CONNECT_SOURCE",
        CONNECT_DEXCOM | {"CONNECT_SOURCE": "minimedcarelink"},
        ("CONNECT_SOURCE='minimedcarelink'", "dexcomshare or linkup"),
    ),
    EnvCase(
        "no NIGHTSCOUT_TOKEN",
        {k: v for k, v in CONNECT_DEXCOM.items() if k != "NIGHTSCOUT_TOKEN"},
        ("NIGHTSCOUT_TOKEN (targets.default.token): ", "access token"),
    ),
    EnvCase(
        "bad CONNECT_NIGHTSCOUT_ENDPOINT",
        CONNECT_DEXCOM | {"CONNECT_NIGHTSCOUT_ENDPOINT": "my-site"},
        ("CONNECT_NIGHTSCOUT_ENDPOINT (targets.default.url): ",),
    ),
    EnvCase(
        "bad CONNECT_SHARE_REGION",
        CONNECT_DEXCOM | {"CONNECT_SHARE_REGION": "mars"},
        ("CONNECT_SHARE_REGION (links[0].region): ", "'mars'", "us, ous, jp"),
    ),
    EnvCase(
        "bad bootstrap servers override",
        CONNECT_DEXCOM | {"NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS": "kafka-1"},
        ("kafka.bootstrap_servers:", "host:port"),
    ),
]


def test_the_base_environment_is_valid() -> None:
    outcome = nightstream("config", "check", env=clean_env(**CONNECT_DEXCOM))
    assert outcome.returncode == 0, outcome.output


@pytest.mark.parametrize("case", ENV_CASES, ids=[c.label for c in ENV_CASES])
def test_a_wrong_environment_setting_gives_one_message(case: EnvCase) -> None:
    outcome = nightstream("config", "check", env=clean_env(**case.env))
    assert_user_error(outcome)
    wrong = [line for line in outcome.lines if line.startswith(("  - ", "Error: C"))]
    assert len(wrong) == 1, outcome.output
    for words in case.says:
        assert words in wrong[0], outcome.output


@pytest.fixture
def unusable_files(tmp_path: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Config files nightstream cannot use, and what the message must say about each."""
    invalid = tmp_path / "invalid.toml"
    invalid.write_text('[kafka]\nbootstrap_servers = "127.0.0.1:9092\n', encoding="utf-8")
    unclosed = tmp_path / "unclosed.toml"
    unclosed.write_text("[kafka\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[targets.home]\nurl = "https://caf\xe9.example.org"\n'.encode("latin-1"))
    folder = tmp_path / "a-folder.toml"
    folder.mkdir()
    return {
        "missing": (tmp_path / "missing.toml", ("does not exist", "--config")),
        "invalid TOML": (invalid, ("not valid TOML", "line 2")),
        "unclosed table": (unclosed, ("not valid TOML", "line 1")),
        "not UTF-8": (latin1, ("not UTF-8",)),
        "a folder": (folder, ("not a file", "NIGHTSTREAM_CONFIG")),
    }


@pytest.mark.parametrize("how", ["--config", "NIGHTSTREAM_CONFIG"])
def test_an_unusable_config_file_gives_one_message(
    how: str, unusable_files: dict[str, tuple[Path, tuple[str, ...]]]
) -> None:
    for label, (path, says) in unusable_files.items():
        if how == "--config":
            outcome = nightstream("config", "check", "--config", str(path))
        else:
            outcome = nightstream("config", "check", env=clean_env(NIGHTSTREAM_CONFIG=str(path)))
        assert_user_error(outcome)
        if how == "--config" and label == "a folder":
            # click checks the option itself, and says so in its own words.
            assert "is a directory" in outcome.output, outcome.output
            continue
        assert len(outcome.lines) == 1, (label, outcome.output)
        assert str(path) in outcome.lines[0], (label, outcome.output)
        for words in says:
            assert words in outcome.lines[0], (label, outcome.output)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: a broker that hangs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def _unreachable_config(write_config: Callable[[Toml], Path], bootstrap: str) -> Path:
    config = base_config()
    config["kafka"]["bootstrap_servers"] = bootstrap
    # A vendor server that refuses too, so nothing but Kafka could make a poller wait.
    _link(config)["server_url"] = f"http://127.0.0.1:{_closed_port()}"
    return write_config(config)


def assert_broker_message(outcome: Outcome, bootstrap: str, why: str) -> None:
    assert_user_error(outcome)
    assert len(outcome.lines) == 1, outcome.output
    (line,) = outcome.lines
    assert line.startswith(f"Error: cannot reach Kafka at {bootstrap} ("), line
    assert why in line, line
    assert "kafka.bootstrap_servers" in line
    assert "NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS" in line


@pytest.mark.parametrize("command", KAFKA_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("bootstrap", ["127.0.0.1:1", "no-such-broker.invalid:9092"])
def test_an_unreachable_broker_is_one_message_not_a_hang_or_traceback(
    command: tuple[str, ...], bootstrap: str, write_config: Callable[[Toml], Path]
) -> None:
    path = _unreachable_config(write_config, bootstrap)
    outcome = nightstream(*command, "--config", str(path))
    why = "connection refused" if bootstrap.startswith("127.") else "host name not found"
    assert_broker_message(outcome, bootstrap, why)
    assert outcome.seconds < scaled(PROBE_SECONDS)


def test_a_broker_that_never_answers_is_given_up_on_in_time(
    silent_server: int, write_config: Callable[[Toml], Path]
) -> None:
    bootstrap = f"127.0.0.1:{silent_server}"
    outcome = nightstream("process", "--config", str(_unreachable_config(write_config, bootstrap)))
    assert_broker_message(outcome, bootstrap, f"no answer within {PROBE_SECONDS:.0f} s")
    assert outcome.seconds < PROBE_SECONDS + scaled(10)

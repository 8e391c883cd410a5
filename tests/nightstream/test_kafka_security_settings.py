"""The ``[kafka]`` TLS and SASL settings: what is refused before anything connects, what the
clients are given, and that the secrets never print. (Against a real secured broker:
tests/integration/test_kafka_security.py.)"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from nightstream.config import KafkaSettings, Settings, load_settings
from nightstream.config_errors import ConfigError, SettingsInvalid
from nightstream.kafka_security import kafka_access
from nightstream.schemas.kafka_clients import client_options
from tests.integration.pipeline import child_environment
from tests.timing import scaled
from tests.tls_material import TlsFiles, write_tls_files

PASSWORD = "kafka-Pw+7c1e/9d"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return write_tls_files(tmp_path_factory.mktemp("tls"), "key-Pw-3b8a")


def _settings(tmp_path: Path, kafka_lines: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "nightstream.toml"
    path.write_text(f"[kafka]\n{kafka_lines}\n", encoding="utf-8")
    return load_settings(env or {}, path)


def _problems(tmp_path: Path, kafka_lines: str) -> list[str]:
    with pytest.raises(SettingsInvalid) as refused:
        _settings(tmp_path, kafka_lines)
    return refused.value.problems


def test_sasl_without_a_password_is_refused_naming_the_key(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, 'security_protocol = "SASL_SSL"\nsasl_username = "ns"')
    assert "sasl_password" in problem
    assert "SASL_SSL" in problem


def test_a_login_without_a_sasl_protocol_is_refused(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, 'sasl_username = "ns"\nsasl_password = "x"')
    assert "security_protocol" in problem
    assert "SASL_SSL" in problem


def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path, tls: TlsFiles) -> None:
    lines = f'security_protocol = "SSL"\nssl_cert_file = "{tls.client_cert_pem}"'
    (problem,) = _problems(tmp_path, lines)
    assert "ssl_key_file" in problem


def test_an_unknown_mechanism_is_refused(tmp_path: Path) -> None:
    lines = 'security_protocol = "SASL_SSL"\nsasl_mechanism = "GSSAPI"\nsasl_username = "n"'
    problems = _problems(tmp_path, lines + '\nsasl_password = "p"')
    assert any("sasl_mechanism" in problem for problem in problems), problems


def test_the_clients_get_the_login_and_tls_and_nothing_prints_the_password(
    tmp_path: Path, tls: TlsFiles
) -> None:
    lines = f'security_protocol = "SASL_SSL"\nssl_ca_file = "{tls.ca_pem}"\nsasl_username = "ns"'
    settings = _settings(tmp_path, lines, {"NIGHTSTREAM_KAFKA__SASL_PASSWORD": PASSWORD})
    access = kafka_access(settings.kafka)
    options = client_options(access)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "ns"
    assert options["sasl_plain_password"] == PASSWORD
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname
    for shown in (repr(access), str(access), repr(settings), str(settings.model_dump())):
        assert PASSWORD not in shown


def test_a_plaintext_cluster_gets_no_security_options(tmp_path: Path) -> None:
    options = client_options(kafka_access(KafkaSettings(bootstrap_servers="h:9092")))
    assert options == {"bootstrap_servers": "h:9092", "security_protocol": "PLAINTEXT"}


def test_an_encrypted_client_key_needs_its_password(tmp_path: Path, tls: TlsFiles) -> None:
    base = (
        f'security_protocol = "SSL"\nssl_ca_file = "{tls.ca_pem}"\n'
        f'ssl_cert_file = "{tls.client_cert_pem}"\nssl_key_file = "{tls.client_key_pem}"\n'
    )
    wrong = _settings(tmp_path, base + 'ssl_key_password = "not-it"')
    with pytest.raises(ConfigError, match=r"a wrong kafka\.ssl_key_password"):
        kafka_access(wrong.kafka)
    right = _settings(tmp_path, base + f'ssl_key_password = "{tls.key_password}"')
    assert kafka_access(right.kafka).ssl_context is not None


def test_a_missing_ca_file_is_one_line_from_the_cli(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    config = tmp_path / "nightstream.toml"
    config.write_text(
        f'[kafka]\nsecurity_protocol = "SSL"\nssl_ca_file = "{missing}"\n', encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "nightstream.cli", "topics", "list", "--config", str(config)],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=scaled(60),
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"Error: kafka.ssl_ca_file: {missing} does not exist"]

"""nightstream on a Kafka cluster that asks for TLS and a login, as managed clusters do: the
local broker with a SASL_SSL listener and a mutual-TLS listener, its CA made at test time.

A wrong password or a CA that does not sign the broker's certificate is one line naming the
settings to check, without a traceback and without a loop of retries; the password is in no
output."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from nightstream.broker_probe import unreachable_reason
from nightstream.config import load_settings
from nightstream.kafka_offsets import records_in
from nightstream.kafka_security import kafka_access
from nightstream.schemas.kafka_access import SaslMechanism
from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.nightscout import NightscoutTestServer
from tests.counting_proxy import counting_proxy
from tests.integration.cli_runs import CliRun
from tests.integration.pipeline import LinkSpec, Pipeline, poll_once, wait_until
from tests.kafka_broker import unique_name
from tests.kafka_secure_broker import Login, SecureBroker, secure_broker

pytestmark = pytest.mark.kafka

READINGS_PER_DAY = 288
UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    yield from secure_broker(tmp_path_factory.mktemp("secure-kafka"))


def _sasl_lines(broker: SecureBroker, login: Login, ca_file: Path | None = None) -> list[str]:
    return [
        'security_protocol = "SASL_SSL"',
        f'ssl_ca_file = "{ca_file or broker.tls.ca_pem}"',
        f'sasl_mechanism = "{login.mechanism}"',
        f'sasl_username = "{login.username}"',
        f'sasl_password = "{login.password}"',
    ]


def _config(tmp_path: Path, bootstrap: str, kafka_lines: list[str]) -> Path:
    path = tmp_path / f"{unique_name('config')}.toml"
    lines = [
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        f'topic_prefix = "{unique_name("sec")}"',
        "partitions = 2",
        *kafka_lines,
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _cli(tmp_path: Path, *args: str) -> tuple[int, CliRun]:
    run = CliRun.start(tmp_path, unique_name(args[0]), list(args))
    return await run.wait(within=60), run


def _assert_one_line_refusal(run: CliRun, code: int, *expected: str) -> str:
    """Exit 2, one line on stderr holding each of ``expected``; returns that line."""
    lines = run.stderr().splitlines()
    assert code == 2, run.stderr()
    assert len(lines) == 1, run.stderr()
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_topics_commands_log_in_with_each_mechanism(
    broker: SecureBroker, mechanism: SaslMechanism, tmp_path: Path
) -> None:
    login = broker.logins[mechanism]
    config = str(_config(tmp_path, broker.sasl_ssl, _sasl_lines(broker, login)))
    code, created = await _cli(tmp_path, "topics", "create", "--config", config)
    assert code == 0, created.stderr()
    assert "created" in created.stdout()
    code, listed = await _cli(tmp_path, "topics", "list", "--config", config)
    assert code == 0, listed.stderr()
    states = [line.split()[0] for line in listed.stdout().splitlines() if not line[0].isspace()]
    assert len(states) > 1, listed.stdout()
    assert set(states) == {"ok"}, listed.stdout()
    for run in (created, listed):
        assert login.password not in run.stdout() + run.stderr()


async def test_a_client_certificate_gets_through_the_mutual_tls_listener(
    broker: SecureBroker, tmp_path: Path
) -> None:
    tls = broker.tls
    lines = [
        'security_protocol = "SSL"',
        f'ssl_ca_file = "{tls.ca_pem}"',
        f'ssl_cert_file = "{tls.client_cert_pem}"',
        f'ssl_key_file = "{tls.client_key_pem}"',
        f'ssl_key_password = "{tls.key_password}"',
    ]
    config = _config(tmp_path, broker.mutual_tls, lines)
    code, created = await _cli(tmp_path, "topics", "create", "--config", str(config))
    assert code == 0, created.stderr()
    settings = load_settings({}, config)
    prefix = settings.kafka.topic_prefix
    assert await records_in(kafka_access(settings.kafka), f"{prefix}.ns.entries") == 0


async def test_a_wrong_password_is_one_line_and_one_try(
    broker: SecureBroker, tmp_path: Path
) -> None:
    login = broker.logins["SCRAM-SHA-512"]
    wrong = Login(login.mechanism, login.username, login.password[::-1])
    async with counting_proxy(broker.sasl_ssl) as proxy:
        config = _config(tmp_path, proxy.address, _sasl_lines(broker, wrong))
        code, run = await _cli(tmp_path, "process", "--config", str(config))
    line = _assert_one_line_refusal(
        run,
        code,
        f"SASL SCRAM-SHA-512 login as '{login.username}' refused",
        "kafka.sasl_password",
    )
    assert wrong.password not in line
    assert run.stdout() == ""
    # The start-up check logs in once, then once more to tell why it failed: no retry loop.
    assert proxy.connections <= 2, proxy.connections


async def test_an_untrusted_ca_is_one_line(broker: SecureBroker, tmp_path: Path) -> None:
    login = broker.logins["SCRAM-SHA-256"]
    lines = _sasl_lines(broker, login, ca_file=broker.tls.other_ca_pem)
    config = _config(tmp_path, broker.sasl_ssl, lines)
    code, run = await _cli(tmp_path, "topics", "list", "--config", str(config))
    _assert_one_line_refusal(
        run, code, "the broker's certificate is not trusted", "kafka.ssl_ca_file"
    )


@pytest.fixture
async def nightscout() -> AsyncIterator[NightscoutTestServer]:
    server = NightscoutTestServer(api_secret=os.urandom(12).hex())
    await server.start()
    yield server
    await server.stop()


async def test_a_dexcom_account_lands_in_nightscout_over_sasl_ssl(
    broker: SecureBroker,
    nightscout: NightscoutTestServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The poller here, in this process (its log captured at DEBUG); processor and sink as
    processes."""
    caplog.set_level(logging.DEBUG)
    login = broker.logins["SCRAM-SHA-512"]
    pipeline = Pipeline(broker.sasl_ssl, tmp_path, kafka_options=tuple(_sasl_lines(broker, login)))
    try:
        async with ShareSimulator(generate_accounts(1, seed=5), seed=5) as sim:
            (account,) = sim.accounts
            link = LinkSpec(
                "p0", account.username, account.password, account.region, sim.base_url("us")
            )
            token = nightscout.create_access_token("sink", permissions=UPLOADER)
            pipeline.write_config({"ns": (nightscout.url, token)}, [link])
            code, created = await _cli(
                tmp_path, "topics", "create", "--config", str(pipeline.config)
            )
            assert code == 0, created.stderr()
            pipeline.start("processor", "process")
            pipeline.start("sink", "sink")
            await poll_once(pipeline)

            async def landed() -> bool:
                return len(nightscout.store.documents("entries")) == READINGS_PER_DAY

            await wait_until(landed, within=120, what="a day of readings in Nightscout")
    finally:
        pipeline.stop_all()
    assert "Authenticated as scramsha512 via SCRAM-SHA-512" in caplog.text
    assert login.password not in caplog.text
    for name, log in pipeline.logs():
        assert login.password not in log, f"the Kafka password is in the {name} log"
        assert "Traceback" not in log, log


async def test_the_secured_listener_refuses_a_client_without_tls_or_login(
    broker: SecureBroker,
) -> None:
    """So the tests above passed through the listener's checks, not around them."""
    problem = await unreachable_reason(broker.sasl_ssl, within=5)
    assert problem is not None

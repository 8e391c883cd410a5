"""Before a role starts: does a Kafka broker answer at the configured bootstrap servers?

Kafka clients retry an unreachable broker for a long time (faust forever), so a typo in
``kafka.bootstrap_servers`` would look like a hang. One metadata request with a deadline turns
it into one message instead. With TLS or SASL configured, a failed probe also says whether the
broker's certificate was not trusted or the login was refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

from nightstream.schemas.kafka_access import Brokers, KafkaAccess, access_of, bootstrap_of
from nightstream.schemas.kafka_clients import client_options, kafka_client

PROBE_SECONDS = 15.0


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    # aiokafka logs each failed connection attempt; the caller reports the outcome once.
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


BOOTSTRAP_CHECK = (
    "that the broker runs and kafka.bootstrap_servers (NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS)"
)


@dataclass(frozen=True)
class BrokerProblem:
    """Why no broker answered, and which settings to check."""

    reason: str
    check: str = BOOTSTRAP_CHECK


async def unreachable_reason(
    brokers: Brokers, within: float = PROBE_SECONDS
) -> BrokerProblem | None:
    """None when a broker answered a metadata request within ``within`` seconds; else why not."""
    client = kafka_client(brokers, request_timeout_ms=int(within * 1000))
    with _quiet("aiokafka"):
        try:
            await asyncio.wait_for(client.bootstrap(), within)
        except TimeoutError:
            return BrokerProblem(f"no answer within {within:.0f} s")
        except (KafkaError, OSError):
            problems = [await _connect_problem(server, brokers) for server in _servers(brokers)]
            return BrokerProblem(
                "; ".join(p.reason for p in problems),
                " and ".join(dict.fromkeys(p.check for p in problems)),
            )
        finally:
            await client.close()
    return None


def _servers(brokers: Brokers) -> list[tuple[str, int]]:
    servers = []
    for server in bootstrap_of(brokers).split(","):
        host, _, port = server.strip().rpartition(":")
        servers.append((host.strip("[]"), int(port)))
    return servers


async def _connect_problem(server: tuple[str, int], brokers: Brokers) -> BrokerProblem:
    """What one connection to ``server`` runs into: with TLS or SASL configured, it goes as far
    as the handshake and the login (one login attempt, not one per check)."""
    host, port = server
    access = access_of(brokers)
    try:
        if access.security_protocol != "PLAINTEXT":
            return await _secured_problem(server, access)
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        writer.close()
    except socket.gaierror:
        return BrokerProblem(f"{host}:{port}: host name not found")
    except ConnectionRefusedError:
        return BrokerProblem(f"{host}:{port}: connection refused")
    except TimeoutError:
        return BrokerProblem(f"{host}:{port}: no answer to connect")
    except OSError as exc:
        return BrokerProblem(f"{host}:{port}: {exc.strerror or type(exc).__name__}")
    return BrokerProblem(
        f"{host}:{port}: accepts connections but does not answer as a Kafka broker"
    )


async def _secured_problem(server: tuple[str, int], access: KafkaAccess) -> BrokerProblem:
    """The TLS handshake and the SASL login; connection failures are left to the caller."""
    host, port = server
    options = client_options(access)
    del options["bootstrap_servers"]
    try:
        connection = await asyncio.wait_for(create_conn(host, port, **options), 10)
    except ssl.SSLCertVerificationError as exc:
        return BrokerProblem(
            f"{host}:{port}: TLS: the broker's certificate is not trusted ({exc.verify_message})",
            "kafka.ssl_ca_file (NIGHTSTREAM_KAFKA__SSL_CA_FILE)",
        )
    except ssl.SSLError as exc:
        return BrokerProblem(
            f"{host}:{port}: TLS handshake failed ({exc.reason or exc})",
            "kafka.security_protocol and that the port is the broker's TLS listener",
        )
    except SaslAuthenticationFailed:
        sasl = access.sasl
        assert sasl is not None  # a SASL failure needs a SASL login
        return BrokerProblem(
            f"{host}:{port}: SASL {sasl.mechanism} login as {sasl.username!r} refused",
            "kafka.sasl_username and kafka.sasl_password (NIGHTSTREAM_KAFKA__SASL_PASSWORD) "
            "and kafka.sasl_mechanism",
        )
    except UnsupportedSaslMechanismError as exc:
        return BrokerProblem(f"{host}:{port}: {exc.args[0]}", "kafka.sasl_mechanism")
    except KafkaError as exc:
        return BrokerProblem(f"{host}:{port}: {type(exc).__name__} with {access.security_protocol}")
    connection.close()
    return BrokerProblem(
        f"{host}:{port}: logs in with {access.security_protocol} but gives no cluster metadata"
    )

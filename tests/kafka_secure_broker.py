"""A local Kafka broker that asks clients to prove who they are, as managed clusters do.

Beside its PLAINTEXT listener (kept for the launcher's readiness probe) it has a ``SASL_SSL``
listener taking PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 logins and an ``SSL`` listener that
requires a client certificate. The CA and certificates are made at start (tests/tls_material.py);
SCRAM logins are written when the data directory is formatted, the PLAIN one into the JAAS
configuration. Started through compose/kafka/kafka-local with ``--extra-properties``.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nightstream.schemas.kafka_access import SaslMechanism
from tests.kafka_broker import _kafka_local, _run_kafka_local
from tests.tls_material import TlsFiles, write_tls_files

MECHANISMS: tuple[SaslMechanism, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class Login:
    mechanism: SaslMechanism
    username: str
    password: str


@dataclass(frozen=True)
class SecureBroker:
    sasl_ssl: str
    """``127.0.0.1:<port>`` of the SASL_SSL listener."""
    mutual_tls: str
    """``127.0.0.1:<port>`` of the SSL listener that requires a client certificate."""
    tls: TlsFiles
    logins: dict[SaslMechanism, Login]
    data_dir: Path


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _jaas(mechanism: str, logins: dict[SaslMechanism, Login]) -> str:
    if mechanism == "PLAIN":
        plain = logins["PLAIN"]
        return (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{plain.username}="{plain.password}";'
        )
    return "org.apache.kafka.common.security.scram.ScramLoginModule required;"


def _extra_properties(ports: list[int], tls: TlsFiles, logins: dict[SaslMechanism, Login]) -> str:
    plain, controller, sasl_ssl, mutual = ports
    lines = [
        f"listeners=PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},"
        f"SASL_SSL://127.0.0.1:{sasl_ssl},SSL://127.0.0.1:{mutual}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{sasl_ssl},"
        f"SSL://127.0.0.1:{mutual}",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
        "SASL_SSL:SASL_SSL,SSL:SSL",
        f"sasl.enabled.mechanisms={','.join(MECHANISMS)}",
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.location={tls.server_p12}",
        f"ssl.keystore.password={tls.key_password}",
        f"ssl.key.password={tls.key_password}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={tls.ca_pem}",
        "listener.name.ssl.ssl.client.auth=required",
    ]
    lines += [
        f"listener.name.sasl_ssl.{m.lower()}.sasl.jaas.config={_jaas(m, logins)}"
        for m in MECHANISMS
    ]
    return "\n".join(lines) + "\n"


def secure_broker(directory: Path) -> Iterator[SecureBroker]:
    """Start the broker in ``directory``, yield it, stop it."""
    tls = write_tls_files(directory / "tls", secrets.token_urlsafe(12))
    logins = {
        m: Login(m, m.lower().replace("-", ""), secrets.token_urlsafe(16)) for m in MECHANISMS
    }
    ports = _free_ports(4)
    extra = directory / "secure.properties"
    extra.write_text(_extra_properties(ports, tls, logins), encoding="utf-8")
    data_dir = directory / "kafka"
    scram = [
        arg
        for m in MECHANISMS
        if m != "PLAIN"
        for arg in ("--scram", f"{m}=[name={logins[m].username},password={logins[m].password}]")
    ]
    _kafka_local(
        "start",
        "--dir",
        str(data_dir),
        "--port",
        str(ports[0]),
        "--controller-port",
        str(ports[1]),
        "--owner-pid",
        str(os.getpid()),
        "--extra-properties",
        str(extra),
        *scram,
    )
    try:
        yield SecureBroker(f"127.0.0.1:{ports[2]}", f"127.0.0.1:{ports[3]}", tls, logins, data_dir)
    finally:
        _run_kafka_local("stop", "--dir", str(data_dir)).check_returncode()

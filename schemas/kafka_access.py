"""How to reach the Kafka brokers: where they are, and the TLS context and SASL login when the
cluster asks for them. No Kafka client code here, so the settings can use these types cheaply.

``Brokers`` is what the rest of the code passes around: either a bare bootstrap string (a broker
without security, as in most tests) or a ``KafkaAccess`` built from the settings.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class SaslLogin:
    mechanism: SaslMechanism
    username: str
    password: SecretStr = field(repr=False)


@dataclass(frozen=True)
class KafkaAccess:
    """Where the brokers are and how to talk to them."""

    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    sasl: SaslLogin | None = None


Brokers = str | KafkaAccess


def access_of(brokers: Brokers) -> KafkaAccess:
    return brokers if isinstance(brokers, KafkaAccess) else KafkaAccess(brokers)


def bootstrap_of(brokers: Brokers) -> str:
    """The ``host:port,...`` list, for messages and for code that opens its own sockets."""
    return access_of(brokers).bootstrap_servers

"""The ``[kafka]`` settings turned into what the clients need: the brokers' TLS context (CA,
client certificate) and SASL login, and the schema registry's address, login and CA. Built once
per process; the files are read here, so a missing or unreadable one is a configuration error at
start-up, not a failure in some client later."""

from __future__ import annotations

import functools
import ssl

from aiokafka.helpers import create_ssl_context

from nightstream.config import KafkaSettings
from nightstream.config_errors import ConfigError
from nightstream.schemas.kafka_access import KafkaAccess, SaslLogin
from nightstream.schemas.registry import RegistryAccess, SchemaRegistryClient


@functools.cache
def kafka_access(kafka: KafkaSettings) -> KafkaAccess:
    """How to reach the brokers ``kafka`` names; raises ``ConfigError`` for unusable files."""
    sasl = None
    if kafka.security_protocol.startswith("SASL_"):
        # The model validator guarantees both for a SASL_* protocol.
        assert kafka.sasl_username is not None
        assert kafka.sasl_password is not None
        sasl = SaslLogin(kafka.sasl_mechanism, kafka.sasl_username, kafka.sasl_password)
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = _tls_context(kafka)
    return KafkaAccess(kafka.bootstrap_servers, kafka.security_protocol, context, sasl)


def registry_access(kafka: KafkaSettings) -> RegistryAccess | None:
    """The schema registry ``kafka`` names, if any, with its login and CA."""
    if kafka.schema_registry_url is None:
        return None
    return RegistryAccess(
        kafka.schema_registry_url,
        kafka.schema_registry_username,
        kafka.schema_registry_password,
        kafka.schema_registry_ca_file,
    )


def schema_registry_client(kafka: KafkaSettings) -> SchemaRegistryClient | None:
    access = registry_access(kafka)
    return SchemaRegistryClient(access) if access else None


def _tls_context(kafka: KafkaSettings) -> ssl.SSLContext:
    password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
    try:
        context = create_ssl_context(
            cafile=kafka.ssl_ca_file,
            certfile=kafka.ssl_cert_file,
            keyfile=kafka.ssl_key_file,
            password=password,
        )
    except FileNotFoundError as exc:
        raise ConfigError(f"kafka: {exc.filename} does not exist") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"kafka: the TLS files cannot be used: {_ssl_reason(exc)}") from None
    except OSError as exc:
        raise ConfigError(f"kafka: {exc.filename or 'a TLS file'}: {exc.strerror}") from None
    context.check_hostname = kafka.ssl_check_hostname
    tls: ssl.SSLContext = context
    return tls


def _ssl_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in words: a wrong key password reads as 'bad decrypt'."""
    reason = exc.reason or str(exc)
    hints = {
        "BAD_DECRYPT": "the key cannot be decrypted (wrong kafka.ssl_key_password?)",
        "KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
        "NO_START_LINE": "not a PEM file",
    }
    return hints.get(reason, reason.replace("_", " ").lower())

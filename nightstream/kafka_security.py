"""The ``[kafka]`` settings turned into what the clients need: the brokers' TLS context (CA,
client certificate) and SASL login, and the schema registry's address, login and CA. Built once
per process; the files are read here, so a missing or unreadable one is a configuration error at
start-up, not a failure in some client later."""

from __future__ import annotations

import functools
import ssl

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
    files = {
        "ssl_ca_file": kafka.ssl_ca_file,
        "ssl_cert_file": kafka.ssl_cert_file,
        "ssl_key_file": kafka.ssl_key_file,
    }
    for key, path in files.items():
        if path is not None and not path.is_file():
            raise ConfigError(f"kafka.{key}: {path} does not exist")
    try:
        # The system's CAs unless a bundle is given; host names checked (unless turned off).
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=kafka.ssl_ca_file)
    except ssl.SSLError:
        raise ConfigError(
            f"kafka.ssl_ca_file: {kafka.ssl_ca_file} is not a PEM CA bundle"
        ) from None
    if kafka.ssl_cert_file is not None:
        password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
        try:
            context.load_cert_chain(kafka.ssl_cert_file, kafka.ssl_key_file, password)
        except ssl.SSLError:
            raise ConfigError(
                f"kafka.ssl_cert_file/ssl_key_file: {kafka.ssl_cert_file} and "
                f"{kafka.ssl_key_file} cannot be loaded: a wrong kafka.ssl_key_password, or a "
                "key that is not the certificate's"
            ) from None
    context.check_hostname = kafka.ssl_check_hostname
    return context

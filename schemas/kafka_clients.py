"""Every Kafka client nightstream makes is made here, so each one reaches the brokers the same
way: plain TCP, TLS, SASL or both (see ``kafka_access``)."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from nightstream.schemas.kafka_access import Brokers, access_of


def client_options(brokers: Brokers) -> dict[str, Any]:
    """The keyword arguments every aiokafka client takes to reach ``brokers``."""
    access = access_of(brokers)
    options: dict[str, Any] = {
        "bootstrap_servers": access.bootstrap_servers,
        "security_protocol": access.security_protocol,
    }
    if access.ssl_context is not None:
        options["ssl_context"] = access.ssl_context
    if access.sasl is not None:
        options["sasl_mechanism"] = access.sasl.mechanism
        options["sasl_plain_username"] = access.sasl.username
        options["sasl_plain_password"] = access.sasl.password.get_secret_value()
    return options


def kafka_consumer(brokers: Brokers, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **client_options(brokers), **options)


def kafka_producer(brokers: Brokers, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**client_options(brokers), **options)


def kafka_admin(brokers: Brokers, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(brokers), **options)


def kafka_client(brokers: Brokers, **options: Any) -> AIOKafkaClient:
    """The low-level client, for a bare metadata request."""
    return AIOKafkaClient(**client_options(brokers), **options)

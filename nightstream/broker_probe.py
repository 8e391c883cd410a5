"""Before a role starts: does a Kafka broker answer at the configured bootstrap servers?

Kafka clients retry an unreachable broker for a long time (faust forever), so a typo in
``kafka.bootstrap_servers`` would look like a hang. One metadata request with a deadline turns
it into one message instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

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


async def unreachable_reason(bootstrap_servers: str, within: float = PROBE_SECONDS) -> str | None:
    """None when a broker answered a metadata request within ``within`` seconds; else why not."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(within * 1000)
    )
    with _quiet("aiokafka"):
        try:
            await asyncio.wait_for(client.bootstrap(), within)
        except TimeoutError:
            return f"no answer within {within:.0f} s"
        except (KafkaError, OSError):
            return "; ".join(
                [await _connect_reason(server) for server in _servers(bootstrap_servers)]
            )
        finally:
            await client.close()
    return None


def _servers(bootstrap_servers: str) -> list[tuple[str, int]]:
    servers = []
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        servers.append((host.strip("[]"), int(port)))
    return servers


async def _connect_reason(server: tuple[str, int]) -> str:
    """What a plain TCP connection to ``server`` runs into."""
    host, port = server
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except socket.gaierror:
        return f"{host}:{port}: host name not found"
    except ConnectionRefusedError:
        return f"{host}:{port}: connection refused"
    except TimeoutError:
        return f"{host}:{port}: no answer to connect"
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or type(exc).__name__}"
    writer.close()
    return f"{host}:{port}: accepts connections but does not answer as a Kafka broker"

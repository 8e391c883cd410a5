"""Read whole topics back with a plain consumer, as an analyst or an auditor would."""

from __future__ import annotations

import asyncio

from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from schemas.compacted import read_records


async def topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    """Every topic whose name starts with ``prefix`` (the run's own, internal ones included)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(name for name in await admin.list_topics() if name.startswith(prefix))
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str, topic: str, *, within: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning to its end offsets as of now."""
    try:
        return await asyncio.wait_for(read_records(bootstrap, topic), timeout=within)
    except TimeoutError:
        raise AssertionError(f"could not read {topic} to its end within {within:.0f} s") from None

"""Link -> targets from the links topic, followed at run time, on the real broker."""

from __future__ import annotations

import asyncio

import pytest

from nightstream.schemas.link_directory import DirectoryEntry, LinkDirectory
from tests.integration.pipeline import wait_until
from tests.kafka_broker import KafkaNames
from tests.sources.links.assignment_kit import LINK_SERDE, LinkWriter, create_links_topic, link

pytestmark = pytest.mark.kafka


async def test_the_directory_reads_the_table_then_follows_changes(
    kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    topic = kafka_names.topic("links")
    await create_links_topic(kafka_bootstrap, topic, partitions=3)
    async with LinkWriter(kafka_bootstrap, topic) as writer:
        await writer.put([link(f"l{i}", targets=["home"]) for i in range(5)])
        await writer.put([link("l1", targets=["home", "clinic"])])
        await writer.delete("l4")
        directory = LinkDirectory(kafka_bootstrap, topic, LINK_SERDE)
        stop = asyncio.Event()
        task = asyncio.create_task(directory.run(stop))
        try:
            await asyncio.wait_for(directory.ready.wait(), timeout=60)
            assert directory.links_of("home") == {"l0", "l1", "l2", "l3"}
            assert directory.links_of("clinic") == {"l1"}
            assert directory.get("l4") is None
            assert directory.get("l0") == DirectoryEntry("dexcomshare", frozenset({"home"}))

            await writer.put([link("l2", targets=["clinic"]), link("l9", vendor="librelinkup")])
            await writer.delete("l0")

            async def followed() -> bool:
                return directory.links_of("clinic") == {"l1", "l2"} and directory.get("l0") is None

            await wait_until(followed, within=60, what="changes followed")
            assert directory.links_of("home") == {"l1", "l3", "l9"}
            assert directory.vendors() == {"dexcomshare", "librelinkup"}
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=60)

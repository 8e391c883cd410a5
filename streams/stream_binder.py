"""The processor's side of routing: record which stream each link reads.

A link's stream shows in its payloads' documents. The binding is written (and acknowledged)
before those documents are published, so a sink that reads a document and then syncs the
bindings topic knows every link bound to the document's stream at that time.
"""

from __future__ import annotations

import logging
import time

from schemas.bindings import StreamBindings
from schemas.records import StreamBinding
from schemas.serde import Serde
from streams.payloads import Send

logger = logging.getLogger(__name__)


class StreamBinder:
    def __init__(self, table: StreamBindings, send: Send, serde: Serde) -> None:
        self._table = table
        self._send = send
        self._serde = serde

    async def bind(self, link_id: str, vendor: str, streams: set[str]) -> None:
        """Record that ``link_id`` reads the stream of its latest payload's documents."""
        if not streams:
            return
        if len(streams) > 1:
            logger.warning(
                "link %s: one payload held documents of %d streams; a link reads one stream, "
                "so it is routed by the last of them",
                link_id,
                len(streams),
            )
        stream = sorted(streams)[-1]
        if self._table.stream_of(link_id) == stream:
            return
        binding = StreamBinding(
            link_id=link_id, vendor=vendor, stream=stream, bound_at_ms=time.time_ns() // 1_000_000
        )
        sent = await self._send(
            self._table.topic, link_id.encode(), self._serde.encode(binding.to_avro())
        )
        await sent
        self._table.remember(binding)
        logger.info("link %s reads stream %s", link_id, stream)

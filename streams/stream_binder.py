"""The processor's side of routing: record which stream each link reads.

A link's stream shows in its payloads' documents. The binding is written (and acknowledged)
before those documents are published, so a sink that reads a document and then syncs the
bindings topic knows every link bound to the document's stream at that time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from nightstream.schemas.bindings import StreamBindings
from nightstream.schemas.records import StreamBinding
from nightstream.schemas.serde import Serde
from nightstream.streams.payloads import Send

logger = logging.getLogger(__name__)


class StreamBinder:
    def __init__(self, table: StreamBindings, send: Send, serde: Serde) -> None:
        self._table = table
        self._send = send
        self._serde = serde

    async def bind_all(self, links: Sequence[tuple[str, str, set[str]]]) -> None:
        """Record that each link reads the stream of its payload's documents (the last payload
        of a link wins); send the new bindings, then await Kafka once."""
        wanted: dict[str, StreamBinding] = {}
        now_ms = time.time_ns() // 1_000_000
        for link_id, vendor, streams in links:
            if not streams:
                continue
            if len(streams) > 1:
                logger.warning(
                    "link %s: one payload held documents of %d streams; a link reads one "
                    "stream, so it is routed by the last of them",
                    link_id,
                    len(streams),
                )
            stream = sorted(streams)[-1]
            wanted[link_id] = StreamBinding(
                link_id=link_id, vendor=vendor, stream=stream, bound_at_ms=now_ms
            )
        new = [b for b in wanted.values() if self._table.stream_of(b.link_id) != b.stream]
        pending = [
            await self._send(
                self._table.topic, b.link_id.encode(), self._serde.encode(b.to_avro()), None
            )
            for b in new
        ]
        await asyncio.gather(*pending)
        for binding in new:
            self._table.remember(binding)
            logger.info("link %s reads stream %s", binding.link_id, binding.stream)

"""``nightstream reprocess``: the transforms again over one vendor's raw topic, from its start.

Reads the raw topic from the beginning up to where it ended when the run began (no consumer
group: nothing to resume, nothing left behind), with the processor's content hashes, so only
documents whose content changed since they were last emitted go to the ``ns.*`` topics; the
sinks then write exactly those. See ``streams/reprocess.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from nightstream.config import KafkaSettings
from nightstream.kafka_security import kafka_access, schema_registry_client
from nightstream.progress import Progress, showing
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.offset_bounds import capture_bounds
from nightstream.schemas.topics import TopicNames
from nightstream.streams.payloads import PayloadTotals
from nightstream.streams.reprocess import Reprocessor
from nightstream.streams.transform import Transform


@dataclass
class ReprocessReport:
    vendor: str
    link: str | None
    total: int
    complete: bool
    totals: PayloadTotals = field(default_factory=PayloadTotals)

    def lines(self) -> list[str]:
        totals = self.totals
        state = "complete" if self.complete else "interrupted (a new run starts from the beginning)"
        scope = f"link {self.link}" if self.link else "every link"
        rows = [
            ("payloads read", f"{totals.payloads} of {self.total}"),
            ("emitted", f"{totals.emitted} document(s), new or changed"),
            ("unchanged", f"{totals.unchanged} document(s), not emitted"),
            ("to the DLQ", f"{totals.rejected} fragment(s) or payload(s)"),
        ]
        if self.link:
            rows.append(("other links", f"{totals.other_links} payload(s), skipped"))
        width = max(len(label) for label, _ in rows)
        head = f"reprocess of {self.vendor} ({scope}): {state}"
        return [head] + [f"  {label.ljust(width)}  {value}" for label, value in rows]


async def reprocess(
    kafka: KafkaSettings,
    vendor: str,
    transforms: Mapping[str, Transform],
    stop: asyncio.Event,
    progress_to: TextIO,
    *,
    link: str | None = None,
) -> ReprocessReport:
    names = TopicNames(kafka.topic_prefix)
    raw_topic = names.raw(vendor)
    bounds = await capture_bounds(kafka_access(kafka), [raw_topic])
    if bounds.missing_topics:
        raise NightstreamError(
            f"topic {raw_topic} does not exist: check kafka.topic_prefix, or run "
            "`nightstream topics create`"
        )
    registry = schema_registry_client(kafka)
    reprocessor = Reprocessor(
        kafka_access(kafka), names, vendor, transforms[vendor], registry, only_link=link
    )
    report = ReprocessReport(vendor, link, bounds.total, False, reprocessor.totals)
    progress = Progress(bounds.total, progress_to, unit="payloads")
    async with showing(progress, lambda: bounds.done(reprocessor.positions)):
        report.complete = await reprocessor.run(bounds, stop)
    return report

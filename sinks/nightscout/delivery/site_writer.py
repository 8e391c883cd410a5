"""Writes for a site's lane: every answer that came, even when some writes of a chunk failed.

A chunk's PUTs run side by side; when some fail (the site went down mid-chunk, the sink is
stopping) the others may have been acknowledged already. Their answers are recorded before the
failure is raised, so they are neither committed blindly nor written again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.errors import TargetFatalError
from nightstream.sinks.nightscout.client import NightscoutClient
from nightstream.sinks.nightscout.outcomes import WriteOutcome

Outcome = WriteOutcome | BaseException
SiteWriter = Callable[[Collection, Sequence[NsRecord]], Awaitable[list[Outcome]]]


def site_writer(client: NightscoutClient) -> SiteWriter:
    """API v3: one PUT per document, each answer on its own; API v1: one batch, all or none."""

    async def write(collection: Collection, records: Sequence[NsRecord]) -> list[Outcome]:
        if client.config.api_version == "v1":
            return list(await client.post_v1_batch(collection, [r.document for r in records]))
        puts = (client.put(collection, r.identifier, r.document) for r in records)
        return list(await asyncio.gather(*puts, return_exceptions=True))

    return write


def first_failure(outcomes: Sequence[Outcome]) -> BaseException | None:
    """What to raise for a chunk: a refusal only the user can fix comes before anything else."""
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    fatal = [f for f in failures if isinstance(f, TargetFatalError)]
    return (fatal or failures or [None])[0]

"""Which sites receive a stream: those with a link that reads it.

A link names its sites (in the file, or added at run time on the links topic) and is bound to
the stream it reads on the bindings topic once its first payload showed which one. Routes are
followed while the sink runs: a new binding or link adds a stream to a site, a removed link
takes it away (unless another link of the site still reads it).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

from nightstream.schemas.bindings import StreamBindings

logger = logging.getLogger(__name__)

SYNC_EVERY_SECONDS = 2.0
"""How often bindings are read again when every document had a route (a document of a stream
with no route forces a sync at once: it may belong to a link bound a moment ago)."""

Route = tuple[str, str]
"""``(site, stream)``."""


class SiteRoutes:
    def __init__(
        self,
        links_of_sites: Callable[[], Mapping[str, frozenset[str]]],
        bindings: StreamBindings,
        links_version: Callable[[], int] = lambda: 0,
    ) -> None:
        """``links_version`` moves whenever ``links_of_sites`` may answer differently."""
        self._links_of_sites = links_of_sites
        self._bindings = bindings
        self._links_version = links_version
        self._computed_for: tuple[int, int] | None = None
        self._sites_of: dict[str, frozenset[str]] = {}
        self._streams_of: dict[str, frozenset[str]] = {}
        self._unrouted_seen = True
        self._synced_at = -math.inf

    def sites_of(self, stream: str) -> frozenset[str]:
        sites = self._sites_of.get(stream)
        if sites is None:
            self._unrouted_seen = True
            return frozenset()
        return sites

    def streams_of(self, site: str) -> frozenset[str]:
        return self._streams_of.get(site, frozenset())

    def routes(self) -> set[Route]:
        return {(site, s) for site, streams in self._streams_of.items() for s in streams}

    async def refresh(self) -> tuple[set[Route], set[Route]] | None:
        """Follow bindings and links when due; returns the routes added and removed, if any."""
        if not self._unrouted_seen and time.monotonic() - self._synced_at < SYNC_EVERY_SECONDS:
            return None
        self._unrouted_seen = False
        self._synced_at = time.monotonic()
        await self._bindings.sync()
        versions = (self._bindings.version, self._links_version())
        if versions == self._computed_for:
            return None  # nothing changed: with 10,000 sites, redoing it cost a third of the CPU
        self._computed_for = versions
        before = self.routes()
        streams_of = {
            site: self._bindings.streams_of(links) for site, links in self._links_of_sites().items()
        }
        sites_of: dict[str, set[str]] = {}
        for site, streams in streams_of.items():
            for stream in streams:
                sites_of.setdefault(stream, set()).add(site)
        self._streams_of = streams_of
        self._sites_of = {stream: frozenset(sites) for stream, sites in sites_of.items()}
        after = self.routes()
        if after != before:
            logger.info(
                "sink: %d stream(s) routed to %d site(s)", len(self._sites_of), len(streams_of)
            )
        return after - before, before - after

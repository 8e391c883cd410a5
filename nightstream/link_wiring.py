"""The links topic wired to a poller: which instance polls which topic link, at run time.

``LinksRole(settings, poller, build_poll_source).run`` is a role to run beside ``poller.run``:
it joins the pollers' consumer group over the links topic and adds and removes the links of its
partitions on the poller. It also watches ``poller.status``: a topic link the poller stopped
(its user must act) is published as stopped with the poller's message, so
``nightstream links status`` can say why and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import replace

from nightstream.config import LinkSettings, Settings
from nightstream.kafka_security import kafka_access
from nightstream.link_host import LinkPoller, PollerLinkHost
from nightstream.roles import schema_registry
from nightstream.schemas.compacted import partitions_of
from nightstream.schemas.kafka_clients import kafka_producer
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.sources.link_assignment import AssignmentOptions, HandoffTopic, LinkAssignment
from nightstream.sources.link_credentials import LinkKeyring
from nightstream.sources.link_status import LinkStatusPublisher
from nightstream.sources.poll_source import PollSource

logger = logging.getLogger(__name__)
STATUS_WATCH_SECONDS = 2.0


def links_group(prefix: str) -> str:
    return f"{prefix}-pollers"


class LinksRole:
    def __init__(
        self,
        settings: Settings,
        poller: LinkPoller,
        build_source: Callable[[LinkSettings], PollSource],
        *,
        instance_id: str | None = None,
        env: Mapping[str, str] = os.environ,
        options: AssignmentOptions | None = None,
    ) -> None:
        """``instance_id``: a name unique to this poller instance that stays the same across
        its restarts (static membership: a restart within the session timeout moves no link)."""
        self._settings = settings
        self._poller = poller
        self._build_source = build_source
        self._env = env
        self.owner = instance_id or f"poller-{os.getpid()}"
        options = options or AssignmentOptions(group_id=links_group(settings.kafka.topic_prefix))
        self._options = replace(options, instance_id=options.instance_id or instance_id)
        self._status: LinkStatusPublisher | None = None
        self.assignment: LinkAssignment | None = None

    async def run(self, stop: asyncio.Event) -> None:
        kafka = self._settings.kafka
        names = TopicNames(kafka.topic_prefix)
        needed = (names.links, names.link_handoffs)
        missing = [t for t in needed if not await partitions_of(kafka_access(kafka), t)]
        if missing:
            # Subscribing would let a broker with auto-creation make them, uncompacted.
            logger.warning(
                "no topic %s: only the configuration file's links are polled; "
                "`nightstream topics create` adds it (then restart)",
                ", ".join(missing),
            )
            await stop.wait()
            return
        registry = schema_registry(self._settings)
        producer = kafka_producer(kafka_access(kafka), acks="all")
        await producer.start()
        try:
            status_serde = make_serde(
                "link_status", subject=f"{names.link_status}-value", registry=registry
            )
            self._status = LinkStatusPublisher(
                producer, names.link_status, status_serde, self.owner
            )
            host = PollerLinkHost(
                self._poller,
                LinkKeyring.for_poller(self._env),
                self._build_source,
                self._status,
                local_link_ids=[link.id for link in self._settings.links],
                target_names=list(self._settings.targets),
            )
            serde = make_serde("link", subject=f"{names.links}-value", registry=registry)
            handoffs = HandoffTopic(
                names.link_handoffs,
                make_serde(
                    "link_handoff", subject=f"{names.link_handoffs}-value", registry=registry
                ),
            )
            self.assignment = LinkAssignment(
                kafka_access(kafka), names.links, serde, host, self._options, handoffs
            )
            watcher = asyncio.create_task(self._watch_stops(stop))
            try:
                await self.assignment.run(stop)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        finally:
            self._status = None
            await producer.stop()

    async def _watch_stops(self, stop: asyncio.Event) -> None:
        reported: dict[str, str | None] = {}
        while not stop.is_set():
            owned = self.assignment.owned if self.assignment is not None else frozenset()
            for link_id in owned:
                status = self._poller.status.get(link_id)
                if status is None or status.state != "stopped":
                    reported.pop(link_id, None)
                elif reported.get(link_id, "") != status.message:
                    reported[link_id] = status.message
                    await self.link_stopped(link_id, status.message or "stopped")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=STATUS_WATCH_SECONDS)

    async def link_stopped(self, link_id: str, message: str) -> None:
        """A topic link this instance polls stopped until its user acts (``message`` says
        what to do); configuration-file links are not reported."""
        status, assignment = self._status, self.assignment
        if status is not None and assignment is not None and link_id in assignment.owned:
            await status.stopped(link_id, message)

"""Wiring: build each role from the settings. The only place that knows every package."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import faust
from mode import Service

from nightstream.config import Settings
from streams.processor import Processor, ProcessorConfig
from streams.registry import TRANSFORMS

logger = logging.getLogger(__name__)

Role = Callable[[asyncio.Event], Awaitable[None]]


def build_processor(settings: Settings, *, app_id: str | None = None) -> Processor:
    kafka = settings.kafka
    config = ProcessorConfig(
        bootstrap_servers=kafka.bootstrap_servers,
        topic_prefix=kafka.topic_prefix,
        partitions=kafka.partitions,
        replication_factor=kafka.replication_factor,
        schema_registry_url=kafka.schema_registry_url,
        app_id=app_id,
    )
    vendors = {link.vendor for link in settings.links} or set(TRANSFORMS)
    return Processor(config, {v: TRANSFORMS[v] for v in sorted(vendors) if v in TRANSFORMS})


class RoleService(Service):
    """Runs an asyncio role (poller, sink) beside the faust app in one worker."""

    def __init__(self, name: str, role: Role) -> None:
        super().__init__()
        self._name = name
        self._role = role
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def label(self) -> str:
        return self._name

    async def on_start(self) -> None:
        self._task = asyncio.create_task(self._role(self._stop), name=self._name)

    async def on_stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=30)


def run_worker(processor: Processor, roles: dict[str, Role], loglevel: str) -> None:
    services = [RoleService(name, role) for name, role in roles.items()]
    worker = faust.Worker(processor.app, *services, loglevel=loglevel.lower(), quiet=True)
    worker.execute_from_commandline()

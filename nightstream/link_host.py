"""The poller as the ``LinkHost`` of the links-topic assignment: decrypt, build, add, remove.

A link that cannot start (its credentials need a key this instance lacks, its settings are no
longer valid, its id is also a TOML link) does not start and its status says what to do; the
other links are not affected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from pydantic import ValidationError

from nightstream.config import LinkSettings
from nightstream.config_errors import explain
from nightstream.link_records import settings_of
from nightstream.schemas.records import LinkRecord
from nightstream.sources.link_credentials import LinkKeyError, LinkKeyring, MissingKeyring
from nightstream.sources.link_status import LinkStatusPublisher
from nightstream.sources.poll_source import PollSource

logger = logging.getLogger(__name__)


class PolledLinkStatus(Protocol):
    @property
    def state(self) -> str: ...

    @property
    def message(self) -> str | None: ...


class LinkPoller(Protocol):
    """What the poller (sources/runner.py) offers for links at run time."""

    @property
    def status(self) -> Mapping[str, PolledLinkStatus]:
        """Per link: ``state`` ("stopped" once the user must act) and ``message``."""

    def add_link(self, source: PollSource) -> None: ...

    async def remove_link(self, link_id: str) -> None: ...


class PollerLinkHost:
    def __init__(
        self,
        poller: LinkPoller,
        keyring: LinkKeyring | MissingKeyring,
        build_source: Callable[[LinkSettings], PollSource],
        status: LinkStatusPublisher,
        *,
        local_link_ids: Collection[str] = (),
        target_names: Collection[str] | None = None,
    ) -> None:
        self._poller = poller
        self._keyring = keyring
        self._build_source = build_source
        self._status = status
        self._local = frozenset(local_link_ids)
        self._targets = None if target_names is None else frozenset(target_names)
        self._added: set[str] = set()
        self._no_key = isinstance(keyring, MissingKeyring)
        if isinstance(keyring, MissingKeyring):
            logger.error("no topic link can start: %s", keyring.problem)

    async def add_link(self, link: LinkRecord) -> None:
        settings = self._settings(link)
        if isinstance(settings, str):
            # Without a key every link says the same: once above is enough for the log.
            log = logger.debug if self._no_key else logger.error
            log("link %s not started: %s", link.id, settings)
            await self._status.stopped(link.id, settings)
            return
        self._poller.add_link(self._build_source(settings))
        self._added.add(link.id)
        await self._status.running(link.id)

    def _settings(self, link: LinkRecord) -> LinkSettings | str:
        """The link's settings, or why it cannot start and what to do."""
        if link.id in self._local:
            return (
                "the configuration file has a link with the same id, and that one is polled: "
                f"remove one of them (`nightstream links remove {link.id}` or the file's entry)"
            )
        unknown = sorted(set(link.targets) - self._targets) if self._targets is not None else []
        if unknown:
            return (
                f"target(s) {', '.join(unknown)} are not in this poller's configuration: define "
                "them under [targets.<name>] or change the link's targets"
            )
        try:
            return settings_of(link, self._keyring)
        except LinkKeyError as exc:
            return str(exc)
        except ValidationError as exc:
            return "its settings are not valid: " + "; ".join(explain(exc))

    async def remove_link(self, link_id: str) -> None:
        if link_id in self._added:
            await self._poller.remove_link(link_id)
            self._added.discard(link_id)
            await self._status.released(link_id)

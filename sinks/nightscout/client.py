"""HTTP client for one Nightscout target: the one object the sink talks to.

API v3 (the default): the access token is exchanged for a JWT (``jwt_auth``), and each document
is written with ``PUT /api/v3/{collection}/{identifier}`` (``v3_writes``). API v1 (for old
servers): arrays are POSTed to ``/api/v1/{collection}`` (``v1_batches``).

Retriable failures (timeouts, connection errors, 5xx, 408, 429, redirects) are retried with
backoff for as long as the target's policy allows (``retrying``); the caller only sees a
``RetriableError`` once that policy gives up. Problems only the user can fix raise
``TargetFatalError``. Every attempt has a deadline, and once ``stop`` is set the writes end
within the target's drain time with ``WriteStopped`` (``stopping``). Retry warnings come one
per change of the target's state (``target_health``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from nightstream.schemas.documents import Collection
from nightstream.schemas.lifecycle import Closing
from nightstream.sinks.nightscout.json_body import SERVER_MANAGED_FIELDS
from nightstream.sinks.nightscout.jwt_auth import JwtAuth
from nightstream.sinks.nightscout.keyed_locks import KeyedLocks
from nightstream.sinks.nightscout.outcomes import WriteOutcome, WriteStatus
from nightstream.sinks.nightscout.permissions import PermissionProbe
from nightstream.sinks.nightscout.stopping import WriteStopped
from nightstream.sinks.nightscout.target_config import ApiVersion, NightscoutTargetConfig
from nightstream.sinks.nightscout.target_http import TargetHttp
from nightstream.sinks.nightscout.v1_batches import V1Writer
from nightstream.sinks.nightscout.v3_writes import V3Writer

__all__ = [
    "SERVER_MANAGED_FIELDS",
    "ApiVersion",
    "NightscoutClient",
    "NightscoutTargetConfig",
    "WriteOutcome",
    "WriteStatus",
    "WriteStopped",
]


class NightscoutClient(Closing):
    """Writes documents to one Nightscout target; use as ``async with NightscoutClient(cfg)``.

    ``stop``: the process's stop event; once set, writes stop retrying and end promptly.
    ``shared_slots``: a limit on attempts in flight that this client shares with the other
    targets of the process (a sink serving thousands of sites).
    """

    def __init__(
        self,
        config: NightscoutTargetConfig,
        stop: asyncio.Event | None = None,
        *,
        shared_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self._config = config
        self._http = TargetHttp(config, stop, shared_slots)
        self._locks = KeyedLocks()
        self._auth = JwtAuth(self._http)
        self._v3 = V3Writer(self._http, self._auth, self._locks)
        self._v1 = V1Writer(self._http, self._locks)
        self._probe = PermissionProbe(self._http, self._auth, self._v3, self._v1)

    @property
    def config(self) -> NightscoutTargetConfig:
        return self._config

    @property
    def busy_identifiers(self) -> int:
        """Identifiers with a write in flight or waiting; 0 when idle (the lock map is pruned)."""
        return len(self._locks)

    @property
    def writes_waiting(self) -> int:
        """Requests in progress: queued for a slot, on the wire, or pausing between attempts."""
        return self._http.health.waiting

    def stop_writes(self) -> None:
        """As if ``stop`` were set: no new attempts, those on the wire end within the drain."""
        self._http.gate.request_stop()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def put(
        self, collection: Collection, identifier: str, document: Mapping[str, Any]
    ) -> WriteOutcome:
        """Insert or replace one document; see ``WriteStatus`` for what can come back."""
        self._require("v3")
        return await self._v3.put(Collection(collection), identifier, document)

    async def post_v1_batch(
        self, collection: Collection, documents: Sequence[Mapping[str, Any]]
    ) -> list[WriteOutcome]:
        """POST documents to API v1 in as few requests as the body limits allow.

        Returns one outcome per document, in order. A batch the server rejects as a whole (400,
        413, 422) is split in halves until the bad documents are found.
        """
        self._require("v1")
        return await self._v1.post_batch(Collection(collection), documents)

    async def self_test(self) -> str:
        """Check credentials, permissions and one read per collection; return a summary.

        Raises TargetFatalError when the sink could not write (bad token, missing permission).
        """
        return await self._probe.self_test()

    async def check_at_start(self) -> bool:
        """The permission check of a role starting: one JWT exchange, not retried.

        True when every write permission is granted, False when the site could not tell (it
        did not answer: its writes retry as usual). Raises TargetFatalError when the token is
        refused or lacks a permission.
        """
        return await self._probe.check_at_start()

    def _require(self, version: ApiVersion) -> None:
        if self._config.api_version != version:
            raise RuntimeError(
                f"target {self._config.name} is configured for API "
                f"{self._config.api_version}, not {version}"
            )

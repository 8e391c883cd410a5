"""LibreLinkUp as a poll source: one graph per poll, for the one patient this link follows.

Cadence: the current reading changes about once a minute while the ~12 h history lags 15-20 min
behind, and every graph answer carries both, so the link polls every ``poll_interval_seconds``
(default 60 s, never under 30 s); the poller's phases keep links from polling in step. The
connections list is read once, and only when no patient_id is configured (Abbott throttles
accounts that call it on every poll).
"""

from __future__ import annotations

from dataclasses import replace

from nightstream.schemas.errors import LinkFatalError
from nightstream.schemas.records import PollCursor, RawPayload
from nightstream.schemas.version import app_version
from nightstream.sources.librelinkup.answers import LoginVerdict
from nightstream.sources.librelinkup.client import LibreLinkUpClient
from nightstream.sources.librelinkup.patients import choose_patient
from nightstream.sources.librelinkup.protocol import GRAPH_ENDPOINT
from nightstream.sources.poll_source import FetchResult

VENDOR = "librelinkup"
DEFAULT_POLL_SECONDS = 60.0
MIN_POLL_SECONDS = 30.0
GRAPH_HISTORY_MS = 12 * 60 * 60 * 1000
REGION_STATE = "region"


class LibreLinkUpPollSource:
    vendor = VENDOR

    def __init__(
        self,
        client: LibreLinkUpClient,
        *,
        patient_id: str | None = None,
        poll_interval_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self.client = client
        self.link_id = client.link_id
        # Patient ids are UUIDs, which compare without case; LibreLinkUp writes them lower-case.
        self._configured_patient = patient_id.strip().lower() if patient_id else None
        self._patient_id = self._configured_patient
        self._poll_interval = max(poll_interval_seconds, MIN_POLL_SECONDS)
        self._envelope = RawPayload(
            link_id=self.link_id,
            vendor=VENDOR,
            endpoint=GRAPH_ENDPOINT,
            fetched_at_ms=0,
            http_status=0,
            body=b"",
            poller_version=app_version(),
        )

    async def fetch(self, cursor: PollCursor | None, now_ms: int) -> FetchResult:
        if cursor is not None and REGION_STATE in cursor.state:
            self.client.adopt_region(cursor.state[REGION_STATE])
        answer = await self.client.graph(await self._patient())
        payload = replace(
            self._envelope,
            fetched_at_ms=now_ms,
            window_start_ms=now_ms - GRAPH_HISTORY_MS,
            window_end_ms=now_ms,
            **answer.payload_fields(),
        )
        # The poller leaves vendor timestamps to the transform: newest_data_ms stays unset.
        return FetchResult([payload], newest_data_ms=None, state={REGION_STATE: answer.region})

    @property
    def first_poll_requests(self) -> int:
        """Requests the next poll makes when it is a link's first (logins included)."""
        return 1 if self.client.has_session else 3

    @property
    def poll_interval_seconds(self) -> float:
        return self._poll_interval

    def seconds_until_next_poll(self, cursor: PollCursor | None, now_ms: int) -> float:
        return self._poll_interval

    async def check_login(self) -> LoginVerdict:
        """The client's verdict, plus which patient this link would follow."""
        verdict = await self.client.check_login()
        if not verdict.ok:
            return verdict
        try:
            chosen = choose_patient(self.link_id, list(verdict.patients), self._configured_patient)
        except LinkFatalError as refused:
            message = f"{verdict.message}; but {refused.user_message}"
            return replace(verdict, outcome="refused", message=message)
        return replace(verdict, message=f"{verdict.message}; this link follows {chosen.describe()}")

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _patient(self) -> str:
        if self._patient_id is None:
            patients = await self.client.patients()
            self._patient_id = choose_patient(self.link_id, patients, None).patient_id
        return self._patient_id

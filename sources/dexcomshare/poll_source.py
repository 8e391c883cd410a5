"""Dexcom Share as a poll source: which window to ask for, and when the next reading is due."""

from __future__ import annotations

import math
import re

from nightstream.schemas.records import PollCursor, RawPayload
from nightstream.schemas.version import app_version
from nightstream.sources.dexcomshare.client import DexcomShareClient
from nightstream.sources.dexcomshare.servers import MAX_COUNT, MAX_MINUTES
from nightstream.sources.poll_source import FetchResult
from nightstream.sources.schedule import phase_ms

VENDOR = "dexcomshare"
READING_INTERVAL_MS = 5 * 60 * 1000
# Share publishes a reading a little after the sensor takes it; ask once it should be there.
PUBLISH_DELAY_MS = 20_000
OVERLAP_MINUTES = 15
MIN_WAIT_SECONDS = 30.0
SPREAD_MS = 20_000
_WALL_TIME = re.compile(rb'"WT"\s*:\s*"/?Date\((\d+)')


def newest_wall_time_ms(body: bytes) -> int | None:
    """The newest ``WT`` in a Share answer; the only parsing the poller does (for its cursor)."""
    times = [int(match) for match in _WALL_TIME.findall(body)]
    return max(times) if times else None


class DexcomSharePollSource:
    vendor = VENDOR

    def __init__(
        self,
        client: DexcomShareClient,
        *,
        poll_interval_seconds: float = 300.0,
    ) -> None:
        self.client = client
        self.link_id = client.link_id
        self._poll_interval = poll_interval_seconds
        # Links whose readings fall due at the same moment still ask a few seconds apart.
        self._spread_s = phase_ms(self.link_id, SPREAD_MS) / 1000

    @property
    def first_poll_requests(self) -> int:
        """Requests the next poll makes when it is a link's first (logins included)."""
        return 1 if self.client.has_session else 3

    @property
    def poll_interval_seconds(self) -> float:
        return self._poll_interval

    def window(self, cursor: PollCursor | None, now_ms: int) -> tuple[int, int]:
        """Minutes and count to ask for: the gap since the newest reading, plus an overlap."""
        if cursor is None or cursor.newest_data_ms is None:
            return MAX_MINUTES, MAX_COUNT
        gap_minutes = math.ceil(max(now_ms - cursor.newest_data_ms, 0) / 60_000)
        minutes = min(max(gap_minutes + OVERLAP_MINUTES, OVERLAP_MINUTES), MAX_MINUTES)
        return minutes, min(minutes // 5 + 2, MAX_COUNT)

    async def fetch(self, cursor: PollCursor | None, now_ms: int) -> FetchResult:
        minutes, max_count = self.window(cursor, now_ms)
        answer = await self.client.read_glucose(minutes, max_count)
        payload = RawPayload(
            link_id=self.link_id,
            vendor=VENDOR,
            endpoint=answer.endpoint,
            fetched_at_ms=now_ms,
            http_status=answer.status,
            body=answer.body,
            poller_version=app_version(),
            request_params=answer.request_params(),
            window_start_ms=now_ms - answer.minutes * 60_000,
            window_end_ms=now_ms,
            content_type=answer.content_type,
        )
        return FetchResult(payloads=[payload], newest_data_ms=newest_wall_time_ms(answer.body))

    def seconds_until_next_poll(self, cursor: PollCursor | None, now_ms: int) -> float:
        jitter = self._spread_s
        if cursor is None or cursor.newest_data_ms is None:
            return self._poll_interval + jitter
        due = cursor.newest_data_ms + READING_INTERVAL_MS + PUBLISH_DELAY_MS
        wait = (due - now_ms) / 1000.0
        if wait <= 0:
            # The reading is late (sensor gap, upload delay): poll again, but not in a tight loop.
            wait = max(min(self._poll_interval, 150.0), MIN_WAIT_SECONDS)
        return min(wait, self._poll_interval) + jitter

    async def aclose(self) -> None:
        await self.client.aclose()

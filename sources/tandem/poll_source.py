"""Tandem Source as a poll source: one pump-log window per poll, one raw payload per window.

The first poll of a pump backfills ``backfill_days`` (default 7) in windows of at most 28 days,
one window per poll with no wait between them; a window whose answer would not fit one Kafka
message is asked again as its first half (and later windows keep that length). After that every
poll (``poll_interval_seconds``, default 300 s as the reference's client sleeps, never under
60 s) reads the pumper, and reads the pump logs only when the pump's ``maxDateOfEvents`` moved:
from the cursor's day (see ``cursor.py``) to today, pump-local.
"""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from nightstream.schemas.errors import LinkFatalError
from nightstream.schemas.records import PollCursor, RawPayload
from nightstream.schemas.version import app_version
from nightstream.sources.poll_source import FetchResult
from nightstream.sources.tandem.answers import LoginVerdict, PumpLogsAnswer
from nightstream.sources.tandem.client import TandemSourceClient
from nightstream.sources.tandem.cursor import OVERLAP, Newest, PumpCursor, newest_event
from nightstream.sources.tandem.protocol import PUMP_LOGS_ENDPOINT, WINDOW_DAYS
from nightstream.sources.tandem.pumps import Pump, choose_pump

VENDOR = "tandem"
DEFAULT_BACKFILL_DAYS = 7
DEFAULT_POLL_SECONDS = 300.0
MIN_POLL_SECONDS = 60.0
BACKFILL_PAUSE_SECONDS = 1.0
JITTER_FRACTION = 0.1
PUMP_STATE = "pump"
"""Cursor state key naming the followed pump's digest (its own keys are prefixed by it)."""
# A raw payload must fit one Kafka message (1 MiB by default) with its envelope.
MAX_PAYLOAD_BYTES = 900_000


def too_big(day: date, size: int) -> str:
    return (
        f"Tandem's pump log for the single day {day.isoformat()} is {size} bytes, more than one "
        "Kafka message holds here: raise the raw topic's max.message.bytes and the producer's "
        "max_request_size, then restart this link"
    )


class TandemPollSource:
    vendor = VENDOR

    def __init__(
        self,
        client: TandemSourceClient,
        *,
        timezone: str,
        pump_serial: str | None = None,
        backfill_days: int = DEFAULT_BACKFILL_DAYS,
        poll_interval_seconds: float = DEFAULT_POLL_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.link_id = client.link_id
        self.timezone = timezone
        self._zone = zoneinfo.ZoneInfo(timezone)
        self._serial = pump_serial
        self._backfill = max(backfill_days, 1)
        self._poll_interval = max(poll_interval_seconds, MIN_POLL_SECONDS)
        self._window_days = WINDOW_DAYS
        self._rng = rng or random.Random()
        self._envelope = RawPayload(
            link_id=self.link_id,
            vendor=VENDOR,
            endpoint=PUMP_LOGS_ENDPOINT,
            fetched_at_ms=0,
            http_status=0,
            body=b"",
            poller_version=app_version(),
            source_tz=timezone,
        )

    def today(self, now_ms: int) -> date:
        return datetime.fromtimestamp(now_ms / 1000, self._zone).date()

    def window(self, cursor: PumpCursor, today: date) -> tuple[date, date]:
        start = cursor.next_day or today - timedelta(days=self._backfill - 1)
        start = min(start, today)
        return start, min(start + timedelta(days=WINDOW_DAYS - 1), today)

    async def fetch(self, cursor: PollCursor | None, now_ms: int) -> FetchResult:
        state = dict(cursor.state) if cursor is not None else {}
        pump = choose_pump(self.link_id, await self.client.pumps(), self._serial)
        mine = PumpCursor.read(state, pump.digest)
        today = self.today(now_ms)
        start, end = self.window(mine, today)
        caught_up = mine.next_day is not None and end == today
        if caught_up and mine.max_date_of_events == pump.max_date_of_events:
            return FetchResult([], newest_data_ms=None, state=state)
        answer, end = await self._read_window(pump, start, end)
        payload = replace(
            self._envelope,
            fetched_at_ms=now_ms,
            http_status=answer.status,
            body=answer.body,
            content_type=answer.content_type or "application/json",
            window_start_ms=self._midnight_ms(start),
            window_end_ms=self._midnight_ms(end + timedelta(days=1)),
            request_params={
                "stream": pump.digest,
                "start": answer.start_day,
                "end": answer.end_day,
            },
        )
        newest = newest_event(answer.body)
        advanced = self._advance(mine, pump, start, end, today, newest)
        newest_ms = None if newest is None else self._local_ms(newest.pump_time)
        state = {**advanced.write(state, pump.digest), PUMP_STATE: pump.digest}
        return FetchResult([payload], newest_data_ms=newest_ms, state=state)

    async def _read_window(self, pump: Pump, start: date, end: date) -> tuple[PumpLogsAnswer, date]:
        """The answer for ``start..end``, or for a shorter window when that one is too big to
        go into one Kafka message (the length that fitted is kept for the next windows)."""
        end = min(end, start + timedelta(days=self._window_days - 1))
        while True:
            answer = await self.client.pump_logs(pump, start, end)
            if answer.status != 200 or len(answer.body) <= MAX_PAYLOAD_BYTES:
                return answer, end
            if start == end:
                raise LinkFatalError(self.link_id, too_big(start, len(answer.body)))
            self._window_days = max(1, ((end - start).days + 1) // 2)
            end = start + timedelta(days=self._window_days - 1)

    def _advance(
        self,
        mine: PumpCursor,
        pump: Pump,
        start: date,
        end: date,
        today: date,
        newest: Newest | None,
    ) -> PumpCursor:
        sequence = mine.sequence_number
        if newest is not None and (sequence is None or newest.sequence_number >= sequence):
            sequence = newest.sequence_number
        if end < today:
            # Still backfilling: the next window starts where this one ended.
            return PumpCursor(end + timedelta(days=1), sequence, None)
        next_day = start
        if newest is not None:
            next_day = max(start, newest.pump_time.date() - OVERLAP)
        return PumpCursor(next_day, sequence, pump.max_date_of_events)

    @property
    def poll_interval_seconds(self) -> float:
        return self._poll_interval

    def seconds_until_next_poll(self, cursor: PollCursor | None, now_ms: int) -> float:
        if cursor is not None and self._backfilling(cursor.state, now_ms):
            return BACKFILL_PAUSE_SECONDS
        return self._poll_interval * (1 + self._rng.uniform(0.0, JITTER_FRACTION))

    def _backfilling(self, state: dict[str, str], now_ms: int) -> bool:
        """True while the followed pump's windows have not reached today yet."""
        digest = state.get(PUMP_STATE)
        mine = PumpCursor.read(state, digest) if digest else PumpCursor()
        if mine.next_day is None or mine.max_date_of_events is not None:
            return False
        return mine.next_day <= self.today(now_ms)

    async def check_login(self) -> LoginVerdict:
        """The client's verdict, plus which pump this link would follow."""
        verdict = await self.client.check_login()
        if not verdict.ok:
            return verdict
        try:
            chosen = choose_pump(self.link_id, list(verdict.pumps), self._serial)
        except LinkFatalError as refused:
            message = f"{verdict.message}; but {refused.user_message}"
            return replace(verdict, outcome="refused", message=message)
        message = f"{verdict.message}; this link follows {chosen.describe()}, zone {self.timezone}"
        return replace(verdict, message=message)

    async def aclose(self) -> None:
        await self.client.aclose()

    def _midnight_ms(self, day: date) -> int:
        return int(datetime.combine(day, time(), self._zone).timestamp() * 1000)

    def _local_ms(self, moment: datetime) -> int:
        return int(moment.replace(tzinfo=self._zone).astimezone(UTC).timestamp() * 1000)

"""What a vendor plugs into the generic poller: fetch raw answers, say when to poll next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from nightstream.schemas.records import PollCursor, RawPayload


@dataclass(frozen=True)
class FetchResult:
    payloads: list[RawPayload]
    newest_data_ms: int | None
    state: dict[str, str] = field(default_factory=dict)


class PollSource(Protocol):
    """One link's vendor side. Raises LinkFatalError or RetriableError from schemas.errors."""

    link_id: str
    vendor: str

    @property
    def poll_interval_seconds(self) -> float:
        """The usual time between polls; the scheduler spreads first polls over it."""

    async def fetch(self, cursor: PollCursor | None, now_ms: int) -> FetchResult: ...

    def seconds_until_next_poll(self, cursor: PollCursor | None, now_ms: int) -> float: ...

    async def aclose(self) -> None: ...

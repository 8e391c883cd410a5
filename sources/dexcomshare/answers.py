"""What the client hands back: a read answer exactly as received, and a login verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nightstream.sources.dexcomshare.servers import READ_GLUCOSE, Region


@dataclass(frozen=True, slots=True)
class ShareAnswer:
    """One ReadPublisherLatestGlucoseValues answer, body untouched.

    ``account_digest`` is ``stream_digest(account id)``: it names the stream without revealing
    the account. ``reading_count`` is the length of the JSON array, for the poller's bookkeeping.
    """

    status: int
    content_type: str
    body: bytes
    account_digest: str
    region: Region
    minutes: int
    max_count: int
    reading_count: int
    endpoint: str = READ_GLUCOSE

    def request_params(self) -> dict[str, str]:
        """Non-secret request parameters, as pollers put them in ``RawPayload.request_params``."""
        return {
            "minutes": str(self.minutes),
            "maxCount": str(self.max_count),
            "region": self.region,
            "stream": self.account_digest,
        }


LoginOutcome = Literal["ok", "no_data", "refused", "unreachable"]


@dataclass(frozen=True, slots=True)
class LoginCheck:
    """The verdict of one login attempt, in words for the user.

    ``ok``: login and a read work; ``no_data``: login works but Share returned nothing for 24 h;
    ``refused``: Dexcom said no (the link stays stopped until the user acts);
    ``unreachable``: no verdict (network, timeout, Dexcom down): try again later.
    """

    outcome: LoginOutcome
    message: str
    account_digest: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

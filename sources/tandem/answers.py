"""What the Tandem client hands back: a pump-log answer as received, and a login verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nightstream.sources.tandem.pumps import Pump

VerdictOutcome = Literal["ok", "no_data", "refused", "unreachable"]


@dataclass(frozen=True, slots=True)
class PumpLogsAnswer:
    """One ``bff/pump-logs`` answer for one pump and one window of pump-local days."""

    status: int
    content_type: str
    body: bytes
    start_day: str
    end_day: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginVerdict:
    """``ok``: login works and the account has a pump that uploaded; ``no_data``: login works,
    no such pump; ``refused``: Tandem said no (the user must act); ``unreachable``: no verdict
    (network, firewall, Tandem down): try again later."""

    outcome: VerdictOutcome
    message: str
    pumps: tuple[Pump, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

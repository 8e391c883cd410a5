"""Simulated Tandem Source accounts and their pumps.

An account lives in one region and has a pumper id and one or more pumps (an old pump that
never uploaded, a replacement...). ``mfa`` and ``consent`` make every login stop at that step
until cleared. A pump's clock may be changed (``clock_changes``): events after a change carry
the new wall clock, as a real pump's do.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import KW_ONLY, dataclass, field

from nightstream.simulators.kit.glucose import DAY_MS

_NAMESPACE = uuid.UUID("5a1d3e0c-7b2f-4c8e-9a61-74616e64656d")
CgmKind = str
"""``g7`` (event 399), ``g6`` (256), ``libre2`` (372) or ``libre3`` (480)."""


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


@dataclass(frozen=True, slots=True)
class ClockChange:
    at_ms: int
    """When (UTC epoch ms) the user changed the pump's clock."""
    shift_ms: int
    """How far the pump's wall clock moved (positive: forward)."""


@dataclass(frozen=True, slots=True)
class SimPump:
    serial: str
    _: KW_ONLY
    assignment_id: str = ""
    model: str = "t:slim X2"
    cgm: CgmKind = "g7"
    time_zone: str = "America/New_York"
    """The zone the pump's clock was set in (its wall clock is that zone's, plus changes)."""
    first_event_ms: int = 1_767_225_600_000
    """Where the pump's event log starts (UTC epoch ms; 2026-01-01)."""
    last_event_ms: int | None = None
    """Where it stops (an old pump no longer in use); None: still logging."""
    clock_changes: tuple[ClockChange, ...] = ()
    daily_basal_events: bool = False
    """Event 81 (battery): the reference says the BFF no longer sends it; tests may."""
    uploads: bool = True
    """False: paired but never uploaded (null dates, no events)."""
    sequence_group: int = 1

    def __post_init__(self) -> None:
        if not self.assignment_id:
            object.__setattr__(self, "assignment_id", derived_id("assignment", self.serial))

    def shift_at(self, utc_ms: int) -> int:
        return sum(c.shift_ms for c in self.clock_changes if c.at_ms <= utc_ms)


@dataclass(frozen=True, slots=True)
class TandemAccount:
    email: str
    password: str
    _: KW_ONLY
    region: str = "us"
    pumps: tuple[SimPump, ...] = ()
    pumper_id: str = ""
    account_id: str = ""
    mfa: bool = False
    consent: bool = False
    first_name: str = "Sam"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.pumper_id:
            object.__setattr__(self, "pumper_id", derived_id("pumper", self.key))
        if not self.account_id:
            object.__setattr__(self, "account_id", derived_id("account", self.key))
        if not self.pumps:
            digits = int(hashlib.sha256(self.key.encode()).hexdigest()[:12], 16)
            pump = SimPump(f"9{digits % 10_000_000:07d}")
            object.__setattr__(self, "pumps", (pump,))

    @property
    def key(self) -> str:
        return self.email.casefold()

    def pump(self, assignment_id: str) -> SimPump | None:
        return next((p for p in self.pumps if p.assignment_id == assignment_id), None)

    def __repr__(self) -> str:
        return f"TandemAccount(email={self.email!r}, region={self.region!r})"


def generate_accounts(
    count: int, seed: int, regions: tuple[str, ...] = ("us",)
) -> list[TandemAccount]:
    """``count`` accounts with one pump each, the same for the same seed."""
    zones = {"us": "America/New_York", "eu": "Europe/Berlin"}
    return [
        TandemAccount(
            email=f"pumper{number:03d}.{region}@example.com",
            password=f"Sim-{seed}-{number:04d}",
            region=region,
            pumps=(
                SimPump(
                    f"{seed % 90 + 10}{number:06d}",
                    time_zone=zones.get(region, "UTC"),
                    first_event_ms=1_767_225_600_000 - 30 * DAY_MS,
                ),
            ),
        )
        for number, region in enumerate((regions[i % len(regions)] for i in range(count)), start=1)
    ]

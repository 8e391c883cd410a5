"""Readings the vendor corrects after serving them: same time, another value from a moment on.

Share answers are not append-only: a reading already served can come back with a new value (a
calibration, a late correction). A revision takes effect at the simulated moment it is made;
answers before it still carry the trace's own value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from nightstream.simulators.kit.glucose import HIGHEST_MGDL, LOWEST_MGDL, GlucoseTrace, Reading


@dataclass(frozen=True, slots=True)
class Revision:
    reading: Reading
    """The reading as served from ``at_ms`` on."""
    at_ms: int


class Revisions:
    """Per account: reading time -> its latest revision."""

    def __init__(self) -> None:
        self._by_account: dict[str, dict[int, Revision]] = {}

    def revise(
        self, account_key: str, trace: GlucoseTrace, time_ms: int, mgdl: int, at_ms: int
    ) -> Reading:
        if not trace.has_reading(time_ms) or trace.latest_grid_time(time_ms) != time_ms:
            raise ValueError(f"no reading at {time_ms} to revise")
        if not LOWEST_MGDL <= mgdl <= HIGHEST_MGDL:
            raise ValueError(f"{mgdl} mg/dL is outside {LOWEST_MGDL}..{HIGHEST_MGDL}")
        revised = replace(trace.reading(time_ms), mgdl=mgdl)
        self._by_account.setdefault(account_key, {})[time_ms] = Revision(revised, at_ms)
        return revised

    def of(self, account_key: str) -> Mapping[int, Revision]:
        return self._by_account.get(account_key, {})

    def as_served(self, account_key: str, reading: Reading, at_ms: int) -> Reading:
        """``reading`` as an answer at ``at_ms`` carries it."""
        revision = self._by_account.get(account_key, {}).get(reading.time_ms)
        return revision.reading if revision is not None and revision.at_ms <= at_ms else reading

    def clear(self) -> None:
        self._by_account.clear()

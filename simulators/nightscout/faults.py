"""Fault injection for resilience tests: errors, hangs and rate limiting, before or after the
write is stored.

Nightscout itself never answers 429 or 503; proxies and hosting platforms in front of it do, and
connections die mid-request. A fault "after the write" stores the document and then fails the
answer: the client cannot know the outcome and must retry safely.

Decisions come from one seeded random stream, drawn in request arrival order, so a sequential
client sees the same faults on every run.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["error", "hang", "rate_limit"]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0  # fraction answered with one of error_statuses
    error_statuses: tuple[int, ...] = (500, 503)
    hang_rate: float = 0.0  # fraction that stall (then 504 before, the real answer after)
    hang_seconds: float | None = 30.0  # None: until the client gives up
    rate_limit_rate: float = 0.0  # fraction answered 429 with Retry-After
    retry_after_seconds: int = 1
    after_write_rate: float = 0.0  # of faulted writes, fraction faulted after storing
    methods: tuple[str, ...] | None = None  # only these HTTP methods; None: all
    seed: int | None = None

    def __post_init__(self) -> None:
        rates = {
            "error_rate": self.error_rate,
            "hang_rate": self.hang_rate,
            "rate_limit_rate": self.rate_limit_rate,
            "after_write_rate": self.after_write_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        if self.error_rate + self.hang_rate + self.rate_limit_rate > 1.0:
            raise ValueError("error_rate + hang_rate + rate_limit_rate must not exceed 1")
        if not self.error_statuses:
            raise ValueError("error_statuses must not be empty")
        if self.hang_seconds is not None and self.hang_seconds < 0:
            raise ValueError("hang_seconds must not be negative")

    @property
    def active(self) -> bool:
        return self.error_rate + self.hang_rate + self.rate_limit_rate > 0

    def to_json(self) -> dict[str, Any]:
        body = dataclasses.asdict(self)
        body["error_statuses"] = list(self.error_statuses)
        body["methods"] = list(self.methods) if self.methods is not None else None
        return body

    @classmethod
    def from_json(cls, body: Any) -> Faults:
        if not isinstance(body, dict):
            raise ValueError("faults must be a JSON object")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        values = dict(body)
        if "error_statuses" in values:
            values["error_statuses"] = tuple(int(status) for status in values["error_statuses"])
        if values.get("methods") is not None:
            values["methods"] = tuple(str(method).upper() for method in values["methods"])
        return cls(**values)


@dataclass(frozen=True)
class FaultDecision:
    kind: FaultKind
    # The answer: a hang before the write ends in 504 (as a proxy's timeout would); a hang after
    # the write ends in the real answer.
    status: int
    after_write: bool

    @property
    def label(self) -> str:
        return f"{self.kind}:{'after' if self.after_write else 'before'}"


class FaultInjector:
    def __init__(self, faults: Faults | None = None) -> None:
        self._faults = faults or Faults()
        self._random = random.Random(self._faults.seed)

    @property
    def faults(self) -> Faults:
        return self._faults

    def decide(self, method: str) -> FaultDecision | None:
        faults = self._faults
        if not faults.active:
            return None
        if faults.methods is not None and method.upper() not in faults.methods:
            return None
        # Always three draws per request, so one request's outcome never shifts the next.
        kind_draw, after_draw, status_draw = (self._random.random() for _ in range(3))
        may_follow_write = method.upper() in WRITE_METHODS
        after_write = may_follow_write and after_draw < faults.after_write_rate
        if kind_draw < faults.error_rate:
            statuses = faults.error_statuses
            status = statuses[min(int(status_draw * len(statuses)), len(statuses) - 1)]
            return FaultDecision("error", status, after_write)
        if kind_draw < faults.error_rate + faults.hang_rate:
            return FaultDecision("hang", 504, after_write)
        if kind_draw < faults.error_rate + faults.hang_rate + faults.rate_limit_rate:
            return FaultDecision("rate_limit", 429, after_write=False)
        return None

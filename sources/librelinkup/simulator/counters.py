"""What the simulator saw, per account (case-folded e-mail): logins and data calls."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class LluCounters:
    logins: int = 0
    """Every ``POST /llu/auth/login`` naming this account, whatever the answer."""
    failed_logins: int = 0
    locked_answers: int = 0
    redirects: int = 0
    step_answers: int = 0
    version_refusals: int = 0
    tickets_issued: int = 0
    connections_calls: int = 0
    graph_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

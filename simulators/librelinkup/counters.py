"""What the simulator saw, per account (case-folded e-mail).

- ``logins``: every ``POST /llu/auth/login`` naming the account, whatever the answer;
- ``failed_logins`` (status 2), ``locked_answers`` (status 429 ``locked``), ``redirects``,
  ``step_answers`` (status 4), ``tickets_issued`` (full logins): what those logins got;
- ``version_refusals``: calls refused for an app version below the minimum (status 920);
- ``connections_calls``, ``graph_calls``: data calls that passed authorization;
- ``throttled_calls``: data calls over the account's quota (HTTP 429).
"""

from __future__ import annotations

from collections import Counter

LOGIN_EVENTS = frozenset({"logins", "failed_logins", "locked_answers", "redirects"})
LOGIN_OUTCOMES = frozenset({"step_answers", "tickets_issued"})
CALL_EVENTS = frozenset({"version_refusals", "connections_calls", "graph_calls", "throttled_calls"})
EVENTS = LOGIN_EVENTS | LOGIN_OUTCOMES | CALL_EVENTS


class LluCounters(Counter[str]):
    def saw(self, event: str) -> None:
        if event not in EVENTS:
            raise KeyError(f"no such simulator event: {event}")
        self[event] += 1

    def as_dict(self) -> dict[str, int]:
        return {event: self[event] for event in sorted(EVENTS)}

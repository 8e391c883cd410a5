"""A request quota admits so many calls per interval and says how long until the next."""

from __future__ import annotations

from nightstream.simulators.kit.quota import QuotaPolicy, RequestQuota


def test_a_burst_over_the_quota_waits_for_the_oldest_call_to_age() -> None:
    quota = RequestQuota(QuotaPolicy(requests=3, interval_ms=60_000))
    assert [quota.admit("a", t) for t in (0, 10_000, 20_000)] == [None, None, None]
    assert quota.admit("a", 30_000) == 30_000
    assert quota.admit("b", 30_000) is None  # per account
    assert quota.admit("a", 60_000) is None  # the first call has aged out
    assert quota.admit("a", 60_001) == 9_999

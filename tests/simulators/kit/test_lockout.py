"""Lockout bookkeeping for both ways vendors count failed logins."""

from __future__ import annotations

from nightstream.simulators.kit.lockout import LockoutPolicy, LoginLockout

WINDOWED = LockoutPolicy(failures=3, lockout_ms=300_000, interval_ms=60_000)
CONSECUTIVE = LockoutPolicy(failures=3, lockout_ms=300_000)


def test_failures_older_than_the_interval_do_not_count() -> None:
    lockout = LoginLockout(WINDOWED)
    for at_ms in (0, 30_000, 60_000):  # the first has aged out when the third comes
        lockout.failed("a", at_ms)
    assert not lockout.locked("a", 60_000)
    lockout.failed("a", 61_000)
    assert lockout.locked("a", 61_000)
    assert lockout.locked("a", 360_999)
    assert not lockout.locked("a", 361_000)


def test_without_an_interval_failures_count_until_a_success() -> None:
    lockout = LoginLockout(CONSECUTIVE)
    lockout.failed("a", 0)
    lockout.failed("a", 3_600_000)
    lockout.succeeded("a")
    lockout.failed("a", 7_200_000)
    lockout.failed("a", 7_300_000)
    assert not lockout.locked("a", 7_300_000)
    lockout.failed("a", 9_000_000)
    assert lockout.locked("a", 9_000_000)
    assert not lockout.locked("b", 9_000_000)


def test_a_lock_starts_the_count_over_when_it_ends() -> None:
    lockout = LoginLockout(CONSECUTIVE)
    for at_ms in (0, 1, 2):
        lockout.failed("a", at_ms)
    assert lockout.locked("a", 300_001)
    lockout.failed("a", 300_002)
    assert not lockout.locked("a", 300_002)
    lockout.failed("b", 0)
    lockout.failed("b", 1)
    lockout.clear()
    lockout.failed("b", 2)
    assert not lockout.locked("b", 2)

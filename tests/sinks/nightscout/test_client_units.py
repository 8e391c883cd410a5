"""Pure parts of the Nightscout client: backoff, Retry-After, outcomes, config, helpers."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from nightstream.schemas.backoff import Backoff, RetryPolicy, parse_retry_after
from nightstream.schemas.documents import Collection
from nightstream.sinks.nightscout.client import NightscoutTargetConfig
from nightstream.sinks.nightscout.outcomes import WriteOutcome, WriteStatus
from nightstream.sinks.nightscout.permissions import granted
from nightstream.sinks.nightscout.v1_batches import pack

TOKEN = "nightstreams-0123456789abcdef"


def test_full_jitter_stays_under_the_exponential_ceiling_and_the_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spans the whole range
    assert policy.delay(10_000, rng) <= 4.0


def test_backoff_gives_up_only_past_max_elapsed() -> None:
    now = [0.0]
    backoff = Backoff(RetryPolicy(base=0.4, cap=0.4, max_elapsed=10.0), clock=lambda: now[0])
    assert backoff.next_delay() is not None
    now[0] = 9.5
    delay = backoff.next_delay(retry_after=0.2)
    assert delay is not None
    assert 0.2 <= delay <= 0.4
    assert backoff.next_delay(retry_after=5.0) is None  # would end past the limit


def test_backoff_without_limit_never_gives_up_and_honours_retry_after() -> None:
    now = [0.0]
    backoff = Backoff(RetryPolicy(base=0.1, cap=0.2), clock=lambda: now[0])
    now[0] = 10**9
    assert backoff.next_delay(retry_after=3600.0) == 3600.0
    assert backoff.attempts == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="base"):
        RetryPolicy(base=0)
    with pytest.raises(ValueError, match="cap"):
        RetryPolicy(base=2, cap=1)


def test_config_repr_and_validation_never_show_secrets() -> None:
    config = NightscoutTargetConfig(name="ns", base_url="https://ns.example", access_token=TOKEN)
    assert TOKEN not in repr(config)
    v1 = NightscoutTargetConfig(
        name="ns", base_url="https://ns.example", api_version="v1", api_secret=TOKEN
    )
    assert TOKEN not in repr(v1)
    with pytest.raises(ValueError, match="credentials") as caught:
        NightscoutTargetConfig(
            name="ns", base_url=f"https://ns.example/?token={TOKEN}", access_token=TOKEN
        )
    assert TOKEN not in str(caught.value)
    with pytest.raises(ValueError, match="access token"):
        NightscoutTargetConfig(name="ns", base_url="https://ns.example")
    with pytest.raises(ValueError, match="API secret"):
        NightscoutTargetConfig(name="ns", base_url="https://ns.example", api_version="v1")


@pytest.mark.parametrize(
    ("grants", "permission", "expected"),
    [
        (["api:*:create", "api:*:update"], "api:entries:update", True),
        (["*"], "api:devicestatus:create", True),
        (["api"], "api:treatments:create", True),
        (["api:entries,treatments:create"], "api:treatments:create", True),
        (["api:entries,treatments:create"], "api:devicestatus:create", False),
        (["*:*:read"], "api:entries:create", False),
        (["api:entries:create:own"], "api:entries:create", False),
    ],
)
def test_permission_matching_follows_shiro(
    grants: list[str], permission: str, expected: bool
) -> None:
    assert granted([grants], permission) is expected


def test_pack_respects_byte_limit_and_order() -> None:
    encoded = {i: b"x" * 10 for i in range(7)}
    chunks = pack(encoded, limit=2 + 3 * 10 + 2)  # three documents and two commas
    assert chunks == [[0, 1, 2], [3, 4, 5], [6]]


def test_outcome_reports_the_immutable_field() -> None:
    outcome = WriteOutcome(
        WriteStatus.REJECTED,
        Collection.ENTRIES,
        "abc",
        http_status=400,
        message="Field date cannot be modified by the client",
    )
    assert outcome.immutable_field == "date"
    assert not outcome.written
    assert WriteOutcome(WriteStatus.WRITTEN_V1, Collection.ENTRIES, None).written

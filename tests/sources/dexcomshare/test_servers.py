"""Regions, hosts, application ids, and the base-URL override."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nightstream.schemas.backoff import parse_retry_after
from nightstream.sources.dexcomshare.client import capped_window
from nightstream.sources.dexcomshare.servers import (
    JP_APPLICATION_ID,
    US_APPLICATION_ID,
    parse_region,
    share_server,
)


@pytest.mark.parametrize(
    ("region", "host", "application_id"),
    [
        ("us", "https://share2.dexcom.com", US_APPLICATION_ID),
        ("ous", "https://shareous1.dexcom.com", US_APPLICATION_ID),
        ("jp", "https://share.dexcom.jp", JP_APPLICATION_ID),
    ],
)
def test_regions(region: str, host: str, application_id: str) -> None:
    server = share_server(region)
    assert (server.base_url, server.application_id) == (host, application_id)
    assert server.url("General/AuthenticatePublisherAccount") == (
        f"{host}/ShareWebServices/Services/General/AuthenticatePublisherAccount"
    )


def test_override_keeps_the_region_application_id() -> None:
    server = share_server("JP", "http://127.0.0.1:8080/jp/")
    assert server.base_url == "http://127.0.0.1:8080/jp"
    assert server.application_id == JP_APPLICATION_ID


@pytest.mark.parametrize("bad", ["eu", "", "share2"])
def test_unknown_region(bad: str) -> None:
    with pytest.raises(ValueError, match="us, ous, jp"):
        parse_region(bad)


def test_override_must_be_a_url() -> None:
    with pytest.raises(ValueError, match="base URL"):
        share_server("us", "share2.dexcom.com")


def test_capped_window() -> None:
    assert capped_window(10_000, 10_000) == (1440, 288)
    assert capped_window(0, -1) == (1, 1)


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        ("-3", 0.0),
        ("soon", None),
        ("Thu, 01 Jan 2026 12:01:30 GMT", 90.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds

"""Region hosts, and what single LibreLinkUp answers mean (without a server)."""

from __future__ import annotations

import json

import pytest

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.sources.librelinkup.authorized import SessionEnded, check_authorized
from nightstream.sources.librelinkup.hosts import (
    GLOBAL,
    LluHosts,
    llu_hosts,
    region_key,
    start_region,
)
from nightstream.sources.librelinkup.login import UNKNOWN_REFUSAL_PAUSE_S, Redirect, read_login
from nightstream.sources.librelinkup.protocol import account_id_header, version_tuple
from nightstream.sources.librelinkup.refusals import DEFAULT_LOCKOUT_S
from nightstream.sources.librelinkup.reply import LluReply
from nightstream.sources.librelinkup.session import Session


@pytest.mark.parametrize(
    ("region", "host"),
    [
        (GLOBAL, "https://api.libreview.io"),
        ("eu", "https://api-eu.libreview.io"),
        ("eu2", "https://api-eu2.libreview.io"),
        ("ru", "https://api.libreview.ru"),
        ("cn", "https://api-cn.myfreestyle.cn"),
        ("xx", "https://api-xx.libreview.io"),  # a region Abbott adds later
    ],
)
def test_abbott_hosts(region: str, host: str) -> None:
    assert LluHosts().base_url(region) == host


def test_region_settings() -> None:
    assert start_region(None) == start_region("auto") == start_region(" AUTO ") == GLOBAL
    assert start_region("GB") == region_key("uk") == "eu2"
    for bad in ("", "e", "eu/..", "a" * 9, "1x"):
        with pytest.raises(ValueError, match="is not a LibreLinkUp region key"):
            region_key(bad)


def test_server_url_override() -> None:
    assert llu_hosts(None) == LluHosts()
    templated = llu_hosts("http://127.0.0.1:8080/{region}/")
    assert templated.base_url("de") == "http://127.0.0.1:8080/de"
    assert templated.follows_redirects
    fixed = llu_hosts("https://proxy.example/llu-eu")
    assert fixed.base_url("us") == "https://proxy.example/llu-eu"
    assert not fixed.follows_redirects
    with pytest.raises(ValueError, match="http"):
        llu_hosts("api-eu.libreview.io")


def test_account_id_and_versions() -> None:
    assert account_id_header("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert version_tuple("4.16.0") == (4, 16, 0)
    assert version_tuple("4.16.0-beta") is None


def reply(body: object, http_status: int = 200, retry_after: float | None = None) -> LluReply:
    return LluReply(http_status, "application/json", json.dumps(body).encode(), retry_after)


def login(answer: LluReply) -> Session | Redirect:
    return read_login(answer, region="eu", link_id="l", version="4.16.0", now_ms=1_000)


def test_login_success_and_redirect() -> None:
    ticket = {"token": "t", "expires": 1_900_000_000, "duration": 15_552_000_000}
    session = login(reply({"status": 0, "data": {"user": {"id": "u"}, "authTicket": ticket}}))
    assert isinstance(session, Session)
    assert (session.token.reveal(), session.expires_ms) == ("t", 1_900_000_000_000)
    assert session.account_id.reveal() == account_id_header("u")
    assert login(reply({"status": 0, "data": {"redirect": True, "region": "EU2"}})) == Redirect(
        "eu2"
    )


@pytest.mark.parametrize(
    ("body", "http_status", "retry_after", "match"),
    [
        ({"status": 0, "data": {"redirect": True, "region": "../x"}}, 200, None, "no usable"),
        ({"status": 0, "data": {"user": {"id": "u"}}}, 200, None, "no ticket"),
        ({"status": 7}, 200, UNKNOWN_REFUSAL_PAUSE_S, "status 7"),
        ({"status": 429, "data": {"message": "locked"}}, 200, DEFAULT_LOCKOUT_S, "throttled"),
        ("<html>", 502, None, "HTTP 502"),
        ("<html>", 430, DEFAULT_LOCKOUT_S, "throttled"),
    ],
)
def test_login_answers_to_wait_for(
    body: object, http_status: int, retry_after: float | None, match: str
) -> None:
    with pytest.raises(RetriableError, match=match) as raised:
        login(reply(body, http_status))
    assert raised.value.retry_after == retry_after


def test_lockout_takes_the_longer_of_body_and_header() -> None:
    locked = {"status": 429, "data": {"code": 60, "data": {"lockout": 300}, "message": "locked"}}
    with pytest.raises(RetriableError) as raised:
        login(reply(locked, retry_after=900))
    assert raised.value.retry_after == 900


def test_version_refusal_without_a_usable_minimum() -> None:
    with pytest.raises(LinkFatalError, match="at least a newer version") as raised:
        login(reply({"status": 920, "data": {"minimumVersion": "<script>"}}, 403))
    assert "<script>" not in raised.value.user_message


def check(answer: LluReply) -> None:
    check_authorized(answer, link_id="l", call="graph", version="4.16.0")


def test_authorized_answers() -> None:
    check(reply({"status": 0, "data": []}))
    with pytest.raises(SessionEnded):
        check(reply({"message": "Unauthorized"}, 401))
    with pytest.raises(LinkFatalError, match="RequiredHeaderMissing"):
        check(reply({"message": "RequiredHeaderMissing"}, 403))
    with pytest.raises(RetriableError, match="status 3"):
        check(reply({"status": 3}))
    with pytest.raises(RetriableError, match="HTTP 500"):
        check(reply("oops", 500))

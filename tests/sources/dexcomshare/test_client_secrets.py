"""Password, session id and account id never show in errors, reprs or logs."""

from __future__ import annotations

import logging
import pickle
import traceback

import httpx
import pytest

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.simulators.dexcomshare import ShareSimulator
from nightstream.sources.secret import Secret
from tests.sources.dexcomshare.conftest import US_PASSWORD, US_USER, share_client


def test_secret_shows_only_when_revealed() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {[secret]} {dict(s=secret)}"
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2")
    assert secret != Secret("other")
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def _everything_shown(*things: object) -> str:
    shown = []
    for thing in things:
        shown += [str(thing), repr(thing)]
        if isinstance(thing, BaseException):
            shown += traceback.format_exception(thing)
    return "\n".join(shown)


async def test_no_secret_in_client_answers_errors_or_logs(
    sim: ShareSimulator, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = share_client(sim.server("us"), http=http)
    answer = await client.read_glucose(10, 1)
    session_id = sim.service.sessions.active_ids()[0]
    account_id = sim.service.account(US_USER).account_id

    sim.set_latency(0.5)
    with pytest.raises(RetriableError) as timed_out:
        await share_client(sim.server("us"), http=http, timeout=0.05).read_glucose()
    sim.set_latency(0)
    await sim.go_down(60_000, mode="refuse")
    with pytest.raises(RetriableError) as refused:
        await client.read_glucose(10, 1)
    await sim.come_back()
    with pytest.raises(LinkFatalError) as wrong:
        await share_client(sim.server("us"), US_USER, US_PASSWORD + "x", http=http).read_glucose()

    shown = _everything_shown(client, answer, timed_out.value, refused.value, wrong.value)
    shown += caplog.text
    assert "sessionId=<redacted>" in caplog.text  # httpx logged the read, redacted
    for secret in (session_id, US_PASSWORD, account_id, US_USER):
        assert secret not in shown

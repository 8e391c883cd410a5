"""Password, e-mail and bearer ticket never show in answers, errors, reprs, logs or payloads."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.sources.librelinkup.poll_source import LibreLinkUpPollSource
from nightstream.sources.librelinkup.redaction import REDACTED, without_tokens
from tests.sources.dexcomshare.test_client_secrets import _everything_shown
from tests.sources.librelinkup.conftest import ADA, EU_EMAIL, EU_PASSWORD, llu_client


async def test_no_secret_in_answers_errors_logs_or_payloads(
    sim: LluSimulator, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = llu_client(sim, http=http)
    source = LibreLinkUpPollSource(client, patient_id=ADA.patient_id)
    fetched = await source.fetch(None, sim.clock.now_ms())
    verdict = await source.check_login()
    tickets = [ticket.token for ticket in sim.service.tickets._tickets.values()]
    assert tickets

    sim.knobs.latency_s = 0.3
    with pytest.raises(RetriableError) as timed_out:
        await llu_client(sim, http=http, timeout=0.05).patients()
    sim.knobs.latency_s = 0
    with pytest.raises(LinkFatalError) as wrong:
        await llu_client(sim, EU_EMAIL, EU_PASSWORD + "x", http=http, region="eu").patients()

    (payload,) = fetched.payloads
    shown = _everything_shown(client, source, fetched, verdict, timed_out.value, wrong.value)
    shown += caplog.text + payload.body.decode() + json.dumps(payload.request_params)
    for secret in (*tickets, EU_PASSWORD, EU_EMAIL):
        assert secret not in shown
    assert json.loads(payload.body)["ticket"]["token"] == REDACTED


def test_a_ticket_the_server_escaped_is_still_removed() -> None:
    body = b'{"status":0,"data":{},"ticket":{"token":"ab\\/cd","expires":1}}'
    cleaned = without_tokens(body, ["ab/cd"])
    assert json.loads(cleaned) == {
        "status": 0,
        "data": {},
        "ticket": {"token": REDACTED, "expires": 1},
    }


def test_redaction_keeps_every_other_byte() -> None:
    body = b'{"status":0, "data": {"x": [1, 2.50]},\n "ticket":{"token":"tok-1.x_y"}}'
    assert without_tokens(body, ["tok-1.x_y"]) == body.replace(b"tok-1.x_y", b"redacted")

"""One ticket, reused until it expires or LibreLinkUp ends it; then exactly one new login."""

from __future__ import annotations

import httpx
import pytest

from nightstream.schemas.errors import RetriableError
from nightstream.simulators.librelinkup import LluSimulator
from nightstream.sources.librelinkup.client import LibreLinkUpClient
from nightstream.sources.simclock import ManualClock
from tests.sources.librelinkup.conftest import ADA, EU_EMAIL, TICKET_TTL_MS, llu_client


async def test_ticket_is_reused_across_calls(sim: LluSimulator, http: httpx.AsyncClient) -> None:
    client = llu_client(sim, http=http, region="eu")
    for _ in range(5):
        await client.graph(ADA.patient_id)
    await client.patients()
    seen = sim.counters_for(EU_EMAIL)
    assert (seen["logins"], seen["graph_calls"], seen["connections_calls"]) == (1, 5, 1)


async def test_ticket_is_renewed_shortly_before_it_expires(
    sim: LluSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    await client.graph(ADA.patient_id)
    clock.advance(TICKET_TTL_MS - 10 * 60_000)
    await client.graph(ADA.patient_id)
    assert sim.counters_for(EU_EMAIL)["logins"] == 1
    clock.advance(6 * 60_000)  # within the renewal margin: log in before it runs out
    await client.graph(ADA.patient_id)
    seen = sim.counters_for(EU_EMAIL)
    assert (seen["logins"], seen["graph_calls"]) == (2, 3)


async def test_ended_ticket_gets_one_new_login(sim: LluSimulator, http: httpx.AsyncClient) -> None:
    client = llu_client(sim, http=http, region="eu")
    await client.graph(ADA.patient_id)
    sim.expire_tickets()
    assert (await client.graph(ADA.patient_id)).reply.http_status == 200
    seen = sim.counters_for(EU_EMAIL)
    assert (seen["logins"], seen["graph_calls"]) == (2, 2)


async def test_a_ticket_refused_right_after_login_is_not_retried_in_a_loop() -> None:
    calls: list[str] = []

    def libreview(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/llu/auth/login":
            ticket = {"token": "t0k3n", "expires": 4_102_444_800, "duration": 3_600_000}
            data = {"user": {"id": "u-1"}, "authTicket": ticket}
            return httpx.Response(200, json={"status": 0, "data": data})
        return httpx.Response(401, json={"message": "Unauthorized"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(libreview)) as mock:
        client = LibreLinkUpClient(
            link_id="link-1", email="e@example.com", password="pw", region="eu", http=mock
        )
        with pytest.raises(RetriableError, match="refused a ticket it had just issued"):
            await client.graph(ADA.patient_id)
    assert calls == ["/llu/auth/login", f"/llu/connections/{ADA.patient_id}/graph"]


async def test_server_errors_and_outages_are_retriable(
    sim: LluSimulator, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    client = llu_client(sim, http=http, region="eu")
    sim.fail_next(status=503, retry_after=12)
    with pytest.raises(RetriableError, match="HTTP 503") as raised:
        await client.patients()
    assert raised.value.retry_after == 12
    clock.advance(12_000)  # the login answered Retry-After: no login before that
    await sim.go_down(60_000, mode="refuse")
    with pytest.raises(RetriableError, match="unreachable on the login"):
        await client.patients()
    await sim.come_back()
    await client.patients()
    sim.fail_next(status=403, body=b"<html>Attention Required! | Cloudflare</html>")
    with pytest.raises(RetriableError, match="HTTP 403"):
        await client.graph(ADA.patient_id)
    assert (await client.graph(ADA.patient_id)).reply.http_status == 200


async def test_timeouts_are_retriable(sim: LluSimulator, http: httpx.AsyncClient) -> None:
    sim.knobs.latency_s = 0.3
    with pytest.raises(RetriableError, match="timed out on the login"):
        await llu_client(sim, http=http, region="eu", timeout=0.05).patients()

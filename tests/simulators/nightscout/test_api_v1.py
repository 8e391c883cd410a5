"""Minimal API v1: authentication and each collection's upsert key (reference §6.2)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest

from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.simulators.nightscout.dates import parse_js_date
from tests.simulators.nightscout.conftest import request_jwt
from tests.simulators.nightscout.support import API_SECRET, BASE_DATE_MS

UNAUTHORIZED = {"status": 401, "message": "Unauthorized", "description": "Invalid/Missing"}


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def admin(server: NightscoutTestServer) -> dict[str, str]:
    return {"api-secret": server.api_secret_hash}


async def post(
    client: httpx.AsyncClient, collection: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/api/v1/{collection}", json=body, headers=headers)


async def test_api_secret_hashes_are_accepted_but_not_the_plain_secret(
    client: httpx.AsyncClient,
) -> None:
    sha1 = hashlib.sha1(API_SECRET.encode()).hexdigest()  # noqa: S324
    sha512 = hashlib.sha512(API_SECRET.encode()).hexdigest()
    document = {"type": "sgv", "sgv": 100, "date": BASE_DATE_MS}
    for secret in (sha1, sha1.upper(), sha512):
        response = await post(client, "entries", document, {"api-secret": secret})
        assert response.status_code == 200, secret
    for secret in (API_SECRET, "0" * 40):
        response = await post(client, "entries", document, {"api-secret": secret})
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
    assert (await client.post("/api/v1/entries", json=document)).json() == UNAUTHORIZED


async def test_tokens_for_v1(server: NightscoutTestServer, client: httpx.AsyncClient) -> None:
    token = server.create_access_token("uploader", permissions=["api:entries:create"])
    document = {"type": "sgv", "sgv": 100, "date": BASE_DATE_MS}
    jwt = await request_jwt(client, token)
    accepted: list[tuple[dict[str, str], dict[str, str]]] = [
        ({"api-secret": token}, {}),
        ({"Authorization": f"Bearer {jwt}"}, {}),
        ({}, {"token": token}),
    ]
    for headers, params in accepted:
        response = await client.post(
            "/api/v1/entries", json=document, headers=headers, params=params
        )
        assert response.status_code == 200, (headers, params)
    # v1 compares the scheme case-sensitively: this falls back to the default (read) roles.
    lowercase = await client.post(
        "/api/v1/entries", json=document, headers={"Authorization": f"bearer {jwt}"}
    )
    assert lowercase.json() == UNAUTHORIZED


async def test_entries_upsert_on_sys_time_and_type(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    first = {"type": "sgv", "sgv": 100, "date": BASE_DATE_MS, "noise": 1}
    response = await post(client, "entries", first, admin)
    [echoed] = response.json()
    assert echoed["sysTime"] == "2023-11-14T22:13:20.000Z"
    assert echoed["utcOffset"] == 0
    assert len(echoed["_id"]) == 24
    await post(client, "entries", [{"type": "sgv", "sgv": 105, "date": BASE_DATE_MS}], admin)
    await post(client, "entries", [{"type": "mbg", "mbg": 101, "date": BASE_DATE_MS}], admin)
    stored = server.store.documents("entries")
    assert [d["type"] for d in stored] == ["sgv", "mbg"]
    assert stored[0]["sgv"] == 105
    assert stored[0]["noise"] == 1  # $set merges, it does not replace
    assert "identifier" not in stored[0]
    assert "srvModified" not in stored[0]


async def test_entries_date_string_sets_sys_time_and_offset(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    document = {"type": "sgv", "sgv": 1, "date": 1, "dateString": "2023-11-14T23:13:20+01:00"}
    [echoed] = (await post(client, "entries", document, admin)).json()
    assert echoed["sysTime"] == "2023-11-14T22:13:20.000Z"
    assert echoed["dateString"] == "2023-11-14T22:13:20.000Z"
    assert echoed["utcOffset"] == 60


async def test_single_entry_without_date_is_ignored(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await post(client, "entries", {"type": "sgv", "sgv": 100}, admin)
    assert response.json() == []
    assert server.store.documents("entries") == []


async def test_uuid_id_becomes_the_identifier(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    uuid_id = "69b2c7a0-5d2c-4c64-9c8d-1f2e3d4c5b6a"
    await post(client, "entries", {"_id": uuid_id, "type": "sgv", "date": BASE_DATE_MS}, admin)
    [stored] = server.store.documents("entries")
    assert stored["identifier"] == uuid_id
    assert stored["_id"] != uuid_id


async def test_treatments_upsert_on_identifier_then_id_then_created_at_and_event_type(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    base = {"created_at": "2023-11-14T22:13:20Z", "eventType": "Note", "notes": "first"}
    [first] = (await post(client, "treatments", base, admin)).json()
    await post(client, "treatments", {**base, "notes": "second"}, admin)
    assert [d["notes"] for d in server.store.documents("treatments")] == ["second"]
    # By _id (a replace: fields not sent are gone).
    await post(
        client,
        "treatments",
        {"_id": first["_id"], "created_at": "2023-11-14T23:00:00Z", "eventType": "Note"},
        admin,
    )
    [stored] = server.store.documents("treatments")
    assert "notes" not in stored
    assert stored["created_at"] == "2023-11-14T23:00:00.000Z"
    # By identifier, whatever the time.
    await post(client, "treatments", {**base, "identifier": "loop-1", "notes": "a"}, admin)
    await post(
        client,
        "treatments",
        {"identifier": "loop-1", "created_at": "2023-11-15T00:00:00Z", "notes": "b"},
        admin,
    )
    by_identifier = [d for d in server.store.documents("treatments") if d.get("identifier")]
    assert [d["notes"] for d in by_identifier] == ["b"]


async def test_treatments_prepare_data(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    before = now_ms()
    document = {"eventType": "Meal Bolus", "insulin": "1.5", "carbs": 0, "notes": "", "glucose": 0}
    [echoed] = (await post(client, "treatments", document, admin)).json()
    assert echoed["insulin"] == 1.5
    for dropped in ("carbs", "notes", "glucose", "duration", "absolute"):
        assert dropped not in echoed
    # created_at defaults to now, as UTC ISO text.
    created_ms = parse_js_date(server.store.documents("treatments")[0]["created_at"])
    assert created_ms is not None
    assert abs(created_ms - before) < 5000
    assert echoed["utcOffset"] == 0


async def test_devicestatus_never_deduplicates(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    status = {"device": "loop://iPhone", "created_at": "2023-11-14T22:13:20Z"}
    await post(client, "devicestatus", status, admin)
    await post(client, "devicestatus", [status, status], admin)
    assert len(server.store.documents("devicestatus")) == 3


async def test_devicestatus_rejects_a_bad_id_and_truncates_predictions(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    bad = await post(client, "devicestatus", [{"_id": "nope"}], admin)
    assert bad.status_code == 400
    assert bad.json() == {
        "status": 400,
        "message": "Invalid _id format",
        "description": "Must be 24-character hex string or omit for auto-generation. Got: nope",
    }
    long = {"openaps": {"suggested": {"predBGs": {"IOB": list(range(400))}}}}
    await post(client, "devicestatus", long, admin)
    [stored] = server.store.documents("devicestatus")
    assert len(stored["openaps"]["suggested"]["predBGs"]["IOB"]) == 288


async def test_v1_get_count_and_default_window(
    server: NightscoutTestServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    recent = [{"type": "sgv", "sgv": i, "date": now_ms() - i * 300_000} for i in range(15)]
    old = {"type": "sgv", "sgv": 999, "date": BASE_DATE_MS}
    await post(client, "entries", [*recent, old], admin)
    listed = (await client.get("/api/v1/entries")).json()  # anonymous: default roles read
    assert [d["sgv"] for d in listed] == list(range(10))
    assert len((await client.get("/api/v1/entries.json", params={"count": "100"})).json()) == 15
    found = await client.get(
        "/api/v1/entries", params={"find[date][$lte]": str(BASE_DATE_MS), "count": "5"}
    )
    assert [d["sgv"] for d in found.json()] == [999]


async def test_v1_read_needs_the_read_permission() -> None:
    async with (
        NightscoutTestServer(api_secret=API_SECRET, auth_default_roles="denied") as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        assert (await client.get("/api/v1/treatments")).json() == UNAUTHORIZED
        response = await client.get(
            "/api/v1/treatments", headers={"api-secret": server.api_secret_hash}
        )
        assert response.status_code == 200

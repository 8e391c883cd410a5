"""CREATE: ``POST /api/v3/{collection}``, insert versus deduplication (reference §2.3, §5)."""

from __future__ import annotations

import httpx
import pytest

from nightstream.simulators.nightscout import NightscoutTestServer, calculate_identifier
from tests.simulators.nightscout.conftest import CallerFactory
from tests.simulators.nightscout.support import BASE_DATE_MS, Caller, entry, treatment


async def test_insert_answers_201_with_identifier_and_last_modified(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    document = entry()
    response = await uploader.post("entries", document)
    assert response.status_code == 201
    body = response.json()
    identifier = calculate_identifier(document)
    assert body == {"status": 201, "identifier": identifier, "lastModified": body["lastModified"]}
    assert response.headers["Location"] == f"/api/v3/entries/{identifier}"
    assert response.headers["Last-Modified"].endswith(" GMT")
    [stored] = server.store.documents("entries")
    assert stored["identifier"] == identifier
    assert stored["srvCreated"] == stored["srvModified"] == body["lastModified"]
    assert stored["subject"] == "uploader"
    assert stored["created_at"] == "2023-11-14T22:13:20.000Z"


async def test_same_document_again_is_a_deduplication(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    first = (await uploader.post("entries", entry())).json()
    response = await uploader.post("entries", entry(sgv=150))
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": 200,
        "lastModified": body["lastModified"],
        "identifier": first["identifier"],
        "isDeduplication": True,
    }
    assert response.headers["Location"] == f"/api/v3/entries/{first['identifier']}"
    [stored] = server.store.documents("entries")
    assert stored["sgv"] == 150
    assert stored["srvCreated"] == first["lastModified"]
    assert stored["srvModified"] == body["lastModified"]


async def test_deduplication_replaces_the_whole_document(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    await uploader.post("entries", entry(noise=1))
    document = entry()
    del document["direction"]
    await uploader.post("entries", document)
    [stored] = server.store.documents("entries")
    assert "noise" not in stored
    assert "direction" not in stored


async def test_a_client_identifier_is_kept_even_if_it_differs(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    response = await uploader.post("entries", entry(identifier="my-own-id"))
    assert response.json()["identifier"] == "my-own-id"
    # Dedup is then only by that identifier: the calculated one does not match.
    second = await uploader.post("entries", entry(identifier="another-id"))
    assert second.status_code == 201
    assert len(server.store.documents("entries")) == 2


async def test_entries_key_ignores_type_so_sgv_and_mbg_at_one_ms_collide(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    await uploader.post("entries", entry())
    response = await uploader.post("entries", entry(type="mbg", mbg=110))
    assert response.json()["isDeduplication"] is True
    [stored] = server.store.documents("entries")
    assert stored["type"] == "mbg"


async def test_insert_needs_create_and_deduplication_needs_update(
    caller_for: CallerFactory,
) -> None:
    creator = await caller_for("creator", permissions=["api:entries:create"])
    updater = await caller_for("updater", permissions=["api:entries:update"])
    denied = await updater.post("entries", entry())
    assert denied.json() == {"status": 403, "message": "Missing permission api:entries:create"}
    assert (await creator.post("entries", entry())).status_code == 201
    again = await creator.post("entries", entry())
    assert again.json() == {"status": 403, "message": "Missing permission api:entries:update"}
    assert (await updater.post("entries", entry(sgv=99))).status_code == 200


async def test_deduplication_refuses_changed_immutable_fields(uploader: Caller) -> None:
    document = treatment(identifier="fixed")
    await uploader.post("treatments", document)
    for field, value in [
        ("date", BASE_DATE_MS + 1),
        ("utcOffset", 60),
        ("device", "other"),
        ("app", "other"),
        ("eventType", "Note"),
        ("srvCreated", 1),
    ]:
        response = await uploader.post("treatments", {**document, field: value})
        assert response.status_code == 400, field
        assert response.json() == {
            "status": 400,
            "message": f"Field {field} cannot be modified by the client",
        }


async def test_soft_deleted_match_is_resurrected_without_immutable_checks(
    server: NightscoutTestServer, uploader: Caller, caller_for: CallerFactory
) -> None:
    document = entry(identifier="resurrect-me")
    await uploader.post("entries", document)
    assert (await uploader.delete("entries", "resurrect-me")).status_code == 200
    creator = await caller_for("creator", permissions=["api:entries:create"])
    refused = await creator.post("entries", {**document, "date": BASE_DATE_MS + 5000})
    assert refused.json() == {"status": 403, "message": "Missing permission api:entries:update"}
    response = await uploader.post("entries", {**document, "date": BASE_DATE_MS + 5000})
    assert response.status_code == 200
    assert response.json()["isDeduplication"] is True
    [stored] = server.store.documents("entries")
    assert stored["date"] == BASE_DATE_MS + 5000
    assert "isValid" not in stored


@pytest.mark.parametrize("flag", ["isReadOnly", "readOnly", "readonly"])
async def test_read_only_documents_cannot_be_deduplicated(uploader: Caller, flag: str) -> None:
    await uploader.post("entries", entry(**{flag: True}))
    response = await uploader.post("entries", entry(**{flag: True}))
    assert response.status_code == 422
    assert response.json() == {"status": 422, "message": "Trying to modify read-only document"}


async def test_fallback_dedup_onto_a_v1_treatment_reports_the_old_identifier(
    server: NightscoutTestServer, client: httpx.AsyncClient, uploader: Caller
) -> None:
    v1_document = {
        "created_at": "2023-11-14T22:13:20.000Z",
        "eventType": "Correction Bolus",
        "insulin": 1.5,
        "date": BASE_DATE_MS,
        "app": "nightstream-tests",
        "device": "pump",
    }
    v1 = await client.post(
        "/api/v1/treatments", json=v1_document, headers={"api-secret": server.api_secret_hash}
    )
    old_id = v1.json()[0]["_id"]
    document = treatment(device="pump", insulin=2.0, created_at="2023-11-14T22:13:20.000Z")
    response = await uploader.post("treatments", document)
    assert response.status_code == 200
    body = response.json()
    assert body["isDeduplication"] is True
    assert body["deduplicatedIdentifier"] == old_id
    assert body["identifier"] == calculate_identifier(document)
    [stored] = server.store.documents("treatments")
    assert stored["_id"] == old_id  # replaced in place
    assert stored["identifier"] == body["identifier"]
    assert stored["insulin"] == 2.0


async def test_fallback_match_on_a_v1_entry_without_app_is_refused(
    server: NightscoutTestServer, client: httpx.AsyncClient, uploader: Caller
) -> None:
    v1_entry = {"type": "sgv", "sgv": 120, "date": BASE_DATE_MS, "device": "xDrip"}
    await client.post(
        "/api/v1/entries", json=[v1_entry], headers={"api-secret": server.api_secret_hash}
    )
    response = await uploader.post("entries", entry(device="xDrip"))
    assert response.json() == {
        "status": 400,
        "message": "Field app cannot be modified by the client",
    }


async def test_fallback_match_on_a_v1_treatment_without_date_is_refused(
    server: NightscoutTestServer, client: httpx.AsyncClient, uploader: Caller
) -> None:
    await client.post(
        "/api/v1/treatments",
        json={"created_at": "2023-11-14T22:13:20Z", "eventType": "Note", "notes": "v1"},
        headers={"api-secret": server.api_secret_hash},
    )
    response = await uploader.post("treatments", treatment(eventType="Note"))
    assert response.json() == {
        "status": 400,
        "message": "Field date cannot be modified by the client",
    }


async def test_fallback_dedup_can_be_switched_off(
    client: httpx.AsyncClient,
) -> None:
    async with (
        NightscoutTestServer(
            api_secret="test-secret-12chars", api3_dedup_fallback_enabled=False
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        await http.post(
            "/api/v1/treatments",
            json={"created_at": "2023-11-14T22:13:20Z", "eventType": "Note"},
            headers={"api-secret": server.api_secret_hash},
        )
        caller = Caller(http, server.issue_jwt(server.create_access_token("u", roles=["admin"])))
        assert (await caller.post("treatments", treatment(eventType="Note"))).status_code == 201


async def test_a_24_hex_identifier_matches_the_v1_document_with_that_id(
    server: NightscoutTestServer, client: httpx.AsyncClient, uploader: Caller
) -> None:
    v1 = await client.post(
        "/api/v1/devicestatus",
        json={"device": "loop", "created_at": "2023-11-14T22:13:20Z"},
        headers={"api-secret": server.api_secret_hash},
    )
    object_id = v1.json()[0]["_id"]
    document = {
        "identifier": object_id,
        "device": "loop",
        "date": BASE_DATE_MS + 1,
        "app": "nightstream-tests",
        "utcOffset": 0,
    }
    response = await uploader.post("devicestatus", document)
    # The stored v1 document has no `date`, so the replace is refused, proving the match.
    assert response.json() == {
        "status": 400,
        "message": "Field date cannot be modified by the client",
    }
    assert len(server.store.documents("devicestatus")) == 1


async def test_treatment_duration_is_normalised_on_replace_only(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    document = treatment(eventType="Temp Basal", duration=30, absolute=0.5)
    await uploader.post("treatments", document)
    assert "endmills" not in server.store.documents("treatments")[0]
    await uploader.post("treatments", document)
    [stored] = server.store.documents("treatments")
    assert stored["endmills"] == BASE_DATE_MS + 30 * 60_000
    assert stored["durationInMilliseconds"] == 30 * 60_000
    assert stored["duration"] == 30


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "Bad or missing request body"),
        ({}, "Bad or missing request body"),
        ([entry(), entry(BASE_DATE_MS + 1)], "Bad or missing date field"),
    ],
)
async def test_arrays_and_empty_bodies_are_400(
    uploader: Caller, body: object, message: str
) -> None:
    response = await uploader.post("entries", body)
    assert response.json() == {"status": 400, "message": message}


async def test_non_json_content_type_leaves_the_body_empty(
    client: httpx.AsyncClient, uploader: Caller
) -> None:
    response = await client.post(
        "/api/v3/entries",
        content=b'{"date": 1700000000000}',
        headers=uploader.headers({"Content-Type": "text/plain"}),
    )
    assert response.json() == {"status": 400, "message": "Bad or missing request body"}


@pytest.mark.parametrize("raw", [b"{not json", b"5", b'"text"', b"[NaN]", b"   "])
async def test_malformed_json_is_500_even_without_auth(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    response = await client.post(
        "/api/v3/entries", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 500
    assert response.json() == {"status": 500, "message": "Internal Server Error"}


async def test_numbers_follow_javascript(
    server: NightscoutTestServer, client: httpx.AsyncClient, uploader: Caller
) -> None:
    raw = b'{"date": 1700000000000.0, "utcOffset": 0, "app": "a", "big": 1e400, "one": 1.0}'
    response = await client.post(
        "/api/v3/entries",
        content=raw,
        headers=uploader.headers({"Content-Type": "application/json"}),
    )
    identifier = response.json()["identifier"]
    stored = (await uploader.get(f"entries/{identifier}")).json()["result"]
    assert stored["one"] == 1
    assert isinstance(stored["one"], int)
    assert stored["big"] is None  # Infinity is written as null


async def test_unknown_collection_is_404_before_authentication(
    client: httpx.AsyncClient,
) -> None:
    for method, path in [
        ("GET", "/api/v3/activity"),
        ("POST", "/api/v3/nope"),
        ("GET", "/api/v3/entries/a/b"),
        ("DELETE", "/api/v3/entries"),
        ("GET", "/api/v3"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, path
        assert response.json() == {"status": 404, "message": "Bad operation or collection"}


async def test_url_extension_becomes_the_accept_header(uploader: Caller) -> None:
    created = await uploader.client.post(
        "/api/v3/entries.json", json=entry(), headers=uploader.headers()
    )
    assert created.status_code == 201
    identifier = created.json()["identifier"]
    assert (await uploader.get(f"entries/{identifier}.json")).status_code == 200
    unknown = await uploader.get(f"entries/{identifier}.nosuchformat")
    assert unknown.json() == {"status": 406, "message": "Unsupported output format requested"}
    assert (await uploader.get(f"entries/{identifier}.csv")).status_code == 406

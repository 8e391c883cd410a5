"""UPDATE (PUT upsert), PATCH and DELETE (reference §2.4 to §2.6)."""

from __future__ import annotations

import pytest

from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.simulators.nightscout.dates import to_utc_string
from tests.simulators.nightscout.conftest import CallerFactory
from tests.simulators.nightscout.support import BASE_DATE_MS, Caller, entry, treatment


async def test_put_inserts_with_201_and_needs_create(
    server: NightscoutTestServer, uploader: Caller, caller_for: CallerFactory
) -> None:
    updater = await caller_for("updater", permissions=["api:treatments:update"])
    refused = await updater.put("treatments", "id-1", treatment())
    assert refused.json() == {"status": 403, "message": "Missing permission api:treatments:create"}
    response = await uploader.put("treatments", "id-1", treatment())
    assert response.status_code == 201
    assert response.json() == {
        "status": 201,
        "identifier": "id-1",
        "lastModified": response.json()["lastModified"],
    }
    # The real server builds Location from the request path.
    assert response.headers["Location"] == "/api/v3/treatments/id-1/id-1"
    assert server.store.documents("treatments")[0]["identifier"] == "id-1"


async def test_put_replaces_with_200_and_needs_update(
    server: NightscoutTestServer, uploader: Caller, caller_for: CallerFactory
) -> None:
    created = (await uploader.put("treatments", "id-1", treatment(notes="a"))).json()
    creator = await caller_for("creator", permissions=["api:treatments:create"])
    refused = await creator.put("treatments", "id-1", treatment())
    assert refused.json() == {"status": 403, "message": "Missing permission api:treatments:update"}
    response = await uploader.put("treatments", "id-1", treatment(insulin=3.0))
    assert response.status_code == 200
    assert response.json() == {"status": 200, "lastModified": response.json()["lastModified"]}
    [stored] = server.store.documents("treatments")
    assert stored["insulin"] == 3.0
    assert "notes" not in stored  # omitted fields are removed
    assert stored["srvCreated"] == created["lastModified"]


async def test_identifier_in_the_url_wins_over_the_body(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    await uploader.put("entries", "from-url", entry(identifier="from-body"))
    assert server.store.documents("entries")[0]["identifier"] == "from-url"


async def test_put_on_a_soft_deleted_document_is_410(uploader: Caller) -> None:
    await uploader.put("entries", "gone", entry())
    await uploader.delete("entries", "gone")
    response = await uploader.put("entries", "gone", entry())
    assert response.status_code == 410
    assert response.json() == {"status": 410}


async def test_if_unmodified_since_older_than_the_document_is_412(uploader: Caller) -> None:
    created = (await uploader.put("entries", "cond", entry())).json()
    modified_ms = created["lastModified"]
    stale = {"If-Unmodified-Since": to_utc_string(modified_ms - 2000)}
    response = await uploader.put("entries", "cond", entry(), headers=stale)
    assert response.status_code == 412
    assert response.json() == {"status": 412}
    same_second = {"If-Unmodified-Since": to_utc_string(modified_ms)}
    assert (await uploader.put("entries", "cond", entry(), headers=same_second)).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date", BASE_DATE_MS + 1),
        ("utcOffset", 120),
        ("eventType", "Note"),
        ("device", "another"),
        ("app", "another"),
        ("srvCreated", 1),
        ("subject", "someone"),
        ("srvModified", 1),
        ("modifiedBy", "someone"),
        ("isValid", True),
    ],
)
async def test_put_refuses_changes_to_immutable_fields(
    uploader: Caller, field: str, value: object
) -> None:
    await uploader.put("treatments", "immutable", treatment())
    response = await uploader.put("treatments", "immutable", {**treatment(), field: value})
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "message": f"Field {field} cannot be modified by the client",
    }


async def test_echoing_unchanged_server_fields_is_allowed(uploader: Caller) -> None:
    await uploader.put("treatments", "echo", treatment())
    stored = await uploader.read("treatments", "echo")
    response = await uploader.put("treatments", "echo", {**stored, "insulin": 2.0})
    assert response.status_code == 200


async def test_object_valued_immutable_field_always_counts_as_changed(uploader: Caller) -> None:
    device = {"name": "pump"}
    await uploader.put("treatments", "object-device", treatment(device=device))
    response = await uploader.put("treatments", "object-device", treatment(device=device))
    assert response.json()["message"] == "Field device cannot be modified by the client"


async def test_put_on_a_read_only_document_is_422(uploader: Caller) -> None:
    await uploader.put("entries", "locked", entry(isReadOnly=True))
    response = await uploader.put("entries", "locked", entry(isReadOnly=True))
    assert response.json() == {"status": 422, "message": "Trying to modify read-only document"}


async def test_patch_sets_fields_and_records_who(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    await uploader.put("treatments", "p", treatment(notes="before"))
    response = await uploader.patch("treatments", "p", {"notes": "after", "nested.value": 3})
    assert response.status_code == 200
    assert response.json() == {"status": 200}
    assert "Last-Modified" in response.headers
    [stored] = server.store.documents("treatments")
    assert stored["notes"] == "after"
    assert stored["insulin"] == 1.5  # untouched fields stay
    assert stored["nested"] == {"value": 3}
    assert stored["modifiedBy"] == "uploader"


async def test_patch_errors(uploader: Caller, caller_for: CallerFactory) -> None:
    assert (await uploader.patch("treatments", "missing", {"notes": "x"})).json() == {"status": 404}
    await uploader.put("treatments", "p", treatment())
    empty = await uploader.patch("treatments", "p", {})
    assert empty.json() == {"status": 400, "message": "Bad or missing request body"}
    changed = await uploader.patch("treatments", "p", {"eventType": "Note"})
    assert changed.json() == {
        "status": 400,
        "message": "Field eventType cannot be modified by the client",
    }
    # No parseDate on PATCH: an ISO date is a changed (and invalid) immutable field.
    iso = await uploader.patch("treatments", "p", {"date": "2023-11-14T22:13:20Z"})
    assert iso.json()["message"] == "Field date cannot be modified by the client"
    reader = await caller_for("reader", roles=["readable"])
    denied = await reader.patch("treatments", "missing", {"notes": "x"})
    assert denied.json() == {"status": 403, "message": "Missing permission api:treatments:update"}
    await uploader.delete("treatments", "p")
    assert (await uploader.patch("treatments", "p", {"notes": "x"})).status_code == 410


async def test_soft_delete_keeps_the_document_marked_invalid(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    await uploader.put("entries", "d", entry())
    response = await uploader.delete("entries", "d")
    assert response.status_code == 200
    assert response.json() == {"status": 200}
    assert server.store.documents("entries") == []
    [stored] = server.store.documents("entries", include_deleted=True)
    assert stored["isValid"] is False
    assert stored["modifiedBy"] == "uploader"
    assert (await uploader.get("entries/d")).json() == {"status": 410}
    # Deleting again still answers 200.
    assert (await uploader.delete("entries", "d")).status_code == 200


async def test_permanent_delete_removes_the_document(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    await uploader.put("entries", "d", entry())
    assert (await uploader.delete("entries", "d", permanent=True)).status_code == 200
    assert server.store.documents("entries", include_deleted=True) == []
    assert (await uploader.get("entries/d")).json() == {"status": 404}
    assert (await uploader.delete("entries", "d")).json() == {"status": 404}


async def test_delete_needs_delete_permission_and_respects_read_only(
    uploader: Caller, caller_for: CallerFactory
) -> None:
    writer = await caller_for("writer", permissions=["api:*:create", "api:*:update"])
    await writer.put("entries", "d", entry())
    refused = await writer.delete("entries", "d")
    assert refused.json() == {"status": 403, "message": "Missing permission api:entries:delete"}
    await uploader.put("entries", "locked", entry(BASE_DATE_MS + 1, readonly=True))
    locked = await uploader.delete("entries", "locked", permanent=True)
    assert locked.json() == {"status": 422, "message": "Trying to modify read-only document"}

"""READ, SEARCH, HISTORY and /lastModified (reference §2.2, §2.7 to §2.9)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.simulators.nightscout.dates import to_utc_string
from tests.simulators.nightscout.support import API_SECRET, BASE_DATE_MS, Caller, entry

MINUTE = 60_000


async def next_millisecond() -> None:
    """Writes in one millisecond share a srvModified; tests about order keep them apart."""
    await asyncio.sleep(0.002)


async def seed(uploader: Caller, count: int = 5) -> list[str]:
    identifiers = []
    for index in range(count):
        document = entry(BASE_DATE_MS + index * 5 * MINUTE, sgv=100 + index * 10)
        identifiers.append((await uploader.post("entries", document)).json()["identifier"])
        await next_millisecond()
    return identifiers


def sgvs(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    return [document.get("sgv") for document in response.json()["result"]]


async def test_read_answers_the_document_with_last_modified(uploader: Caller) -> None:
    [identifier] = await seed(uploader, 1)
    response = await uploader.get(f"entries/{identifier}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 200
    assert body["result"]["identifier"] == identifier
    assert "_id" not in body["result"]
    assert response.headers["Last-Modified"] == to_utc_string(body["result"]["srvModified"])


async def test_read_not_modified_since(uploader: Caller) -> None:
    [identifier] = await seed(uploader, 1)
    modified = (await uploader.read("entries", identifier))["srvModified"]
    fresh = await uploader.get(
        f"entries/{identifier}", headers={"If-Modified-Since": to_utc_string(modified)}
    )
    assert fresh.status_code == 304
    assert fresh.content == b""
    stale = await uploader.get(
        f"entries/{identifier}", headers={"If-Modified-Since": to_utc_string(modified - 2000)}
    )
    assert stale.status_code == 200


async def test_read_with_fields_projects_even_the_identifier_away(uploader: Caller) -> None:
    [identifier] = await seed(uploader, 1)
    response = await uploader.get(f"entries/{identifier}", params={"fields": "sgv,date"})
    assert response.json()["result"] == {"sgv": 100, "date": BASE_DATE_MS}


async def test_v1_documents_are_read_by_their_object_id(
    server: NightscoutTestServer, client: httpx.AsyncClient, uploader: Caller
) -> None:
    posted = await client.post(
        "/api/v1/entries",
        json={"type": "sgv", "sgv": 99, "date": BASE_DATE_MS},
        headers={"api-secret": server.api_secret_hash},
    )
    object_id = posted.json()[0]["_id"]
    document = await uploader.read("entries", object_id)
    assert document["identifier"] == object_id
    # srvModified/srvCreated are made up from `date` for display only.
    assert document["srvModified"] == document["srvCreated"] == BASE_DATE_MS


async def test_default_search_order_is_identifier_ascending(uploader: Caller) -> None:
    identifiers = await seed(uploader)
    response = await uploader.get("entries")
    assert [d["identifier"] for d in response.json()["result"]] == sorted(identifiers)


async def test_sort_and_sort_desc(uploader: Caller) -> None:
    await seed(uploader)
    assert sgvs(await uploader.get("entries", {"sort": "date"})) == [100, 110, 120, 130, 140]
    assert sgvs(await uploader.get("entries", {"sort$desc": "date"})) == [140, 130, 120, 110, 100]
    both = await uploader.get("entries", {"sort": "date", "sort$desc": "date"})
    assert both.json() == {
        "status": 400,
        "message": "Parameters sort and sort_desc cannot be combined",
    }


async def test_limit_and_skip(uploader: Caller) -> None:
    await seed(uploader)
    page = await uploader.get("entries", {"sort": "date", "limit": "2", "skip": "1"})
    assert sgvs(page) == [110, 120]
    # parseInt after a Number() check: "1e2" passes as 100 and then limits to 1.
    assert len(sgvs(await uploader.get("entries", {"limit": "1e2"}))) == 1


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "abc"])
async def test_limit_out_of_tolerance(uploader: Caller, limit: str) -> None:
    response = await uploader.get("entries", {"limit": limit})
    assert response.json() == {"status": 400, "message": "Parameter limit out of tolerance"}


@pytest.mark.parametrize("skip", ["-1", "abc"])
async def test_skip_out_of_tolerance(uploader: Caller, skip: str) -> None:
    response = await uploader.get("entries", {"skip": skip})
    assert response.json() == {"status": 400, "message": "Parameter skip out of tolerance"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sgv": "120"}, [120]),
        ({"sgv$eq": "120"}, [120]),
        ({"sgv$ne": "120"}, [100, 110, 130, 140]),
        ({"sgv$gt": "120"}, [130, 140]),
        ({"sgv$gte": "120"}, [120, 130, 140]),
        ({"sgv$lt": "120"}, [100, 110]),
        ({"sgv$lte": "120"}, [100, 110, 120]),
        ({"sgv$in": "100|120"}, []),  # in/nin values stay strings
        ({"direction$in": "Flat|Up"}, [100, 110, 120, 130, 140]),
        ({"sgv$nin": "100|120"}, [100, 110, 120, 130, 140]),
        ({"device$re": "^nightstream://"}, [100, 110, 120, 130, 140]),
        ({"type": "'sgv'"}, [100, 110, 120, 130, 140]),
        ({"date$gte": str(BASE_DATE_MS + 10 * MINUTE)}, [120, 130, 140]),
        ({"date$lt": "2023-11-14T22:23:20Z"}, [100, 110]),
        ({"date$gte": str((BASE_DATE_MS + 15 * MINUTE) // 1000)}, [130, 140]),  # seconds
        ({"created_at$gte": str(BASE_DATE_MS + 15 * MINUTE)}, [130, 140]),  # compared as ISO
        ({"sgv$gte": "110", "sgv$lt": "130"}, [110, 120]),
    ],
)
async def test_search_filters(
    uploader: Caller, params: dict[str, str], expected: list[int]
) -> None:
    await seed(uploader)
    assert sgvs(await uploader.get("entries", {**params, "sort": "date"})) == expected


async def test_unsupported_filter_operator(uploader: Caller) -> None:
    response = await uploader.get("entries", {"sgv$like": "1"})
    assert response.json() == {"status": 400, "message": "Unsupported filter operator like"}


async def test_invalid_regular_expression_is_a_database_error(uploader: Caller) -> None:
    response = await uploader.get("entries", {"device$re": "("})
    assert response.json() == {"status": 500, "message": "Database error"}


async def test_search_excludes_soft_deleted_and_projects_fields(uploader: Caller) -> None:
    identifiers = await seed(uploader, 2)
    await uploader.delete("entries", identifiers[0])
    response = await uploader.get("entries", {"fields": "sgv"})
    assert len(response.json()["result"]) == 1
    assert set(response.json()["result"][0]) == {"sgv"}


async def test_history_includes_deletions_in_modification_order(uploader: Caller) -> None:
    identifiers = await seed(uploader, 3)
    await uploader.delete("entries", identifiers[0])
    response = await uploader.get("entries/history/946684800001")
    assert response.status_code == 200
    result = response.json()["result"]
    assert [d["identifier"] for d in result] == [identifiers[1], identifiers[2], identifiers[0]]
    assert result[-1]["isValid"] is False
    newest = result[-1]["srvModified"]
    assert response.headers["ETag"] == f'W/"{newest}"'
    assert response.headers["Last-Modified"] == to_utc_string(newest)


async def test_history_path_variant_is_strictly_after(uploader: Caller) -> None:
    await seed(uploader, 2)
    all_changes = (await uploader.get("entries/history/946684800001")).json()["result"]
    first_modified = all_changes[0]["srvModified"]
    later = (await uploader.get(f"entries/history/{first_modified}")).json()["result"]
    assert [d["srvModified"] for d in later] == [
        d["srvModified"] for d in all_changes if d["srvModified"] > first_modified
    ]


async def test_history_header_variant_is_at_or_after_the_second(uploader: Caller) -> None:
    await seed(uploader, 2)
    newest = (await uploader.get("entries/history/946684800001")).json()["result"][-1]
    response = await uploader.get(
        "entries/history", headers={"Last-Modified": to_utc_string(newest["srvModified"])}
    )
    assert newest["identifier"] in [d["identifier"] for d in response.json()["result"]]
    garbage = await uploader.get("entries/history", headers={"Last-Modified": "garbage"})
    assert garbage.json() == {"status": 200, "result": []}


async def test_history_errors_and_empty_answer(uploader: Caller) -> None:
    missing = await uploader.get("entries/history")
    bad = {"status": 400, "message": "Bad or missing Last-Modified header/parameter"}
    assert missing.json() == bad
    assert (await uploader.get("entries/history/not-a-date")).json() == bad
    assert (await uploader.get("entries/history/0")).json() == bad  # before 2000
    empty = await uploader.get(f"entries/history/{int(time.time() * 1000) + 60_000}")
    assert empty.json() == {"status": 200, "result": []}
    assert "ETag" not in empty.headers
    limit = await uploader.get("entries/history/946684800001", {"limit": "0"})
    assert limit.json() == {"status": 400, "message": "Parameter limit out of tolerance"}


async def test_history_never_shows_v1_documents(
    server: NightscoutTestServer, client: httpx.AsyncClient, uploader: Caller
) -> None:
    await client.post(
        "/api/v1/entries",
        json={"type": "sgv", "sgv": 99, "date": BASE_DATE_MS},
        headers={"api-secret": server.api_secret_hash},
    )
    assert (await uploader.get("entries/history/946684800001")).json()["result"] == []
    assert len((await uploader.get("entries")).json()["result"]) == 1


async def test_last_modified_lists_readable_collections_with_data(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    [identifier] = await seed(uploader, 1)
    modified = (await uploader.read("entries", identifier))["srvModified"]
    body = (await uploader.get("lastModified")).json()
    assert body["status"] == 200
    assert body["result"]["collections"] == {"entries": modified}
    assert isinstance(body["result"]["srvDate"], int)


async def test_custom_max_limit() -> None:
    async with (
        NightscoutTestServer(api_secret=API_SECRET, api3_max_limit=2) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        caller = Caller(client, server.issue_jwt(server.create_access_token("r", roles=["admin"])))
        for index in range(3):
            await caller.post("entries", entry(BASE_DATE_MS + index))
        assert len((await caller.get("entries")).json()["result"]) == 2
        assert (await caller.get("entries", {"limit": "3"})).status_code == 400

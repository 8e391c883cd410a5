"""Field validation 400s with the real messages (reference §3.1)."""

from __future__ import annotations

from typing import Any

import pytest

from nightstream.simulators.nightscout import NightscoutTestServer
from tests.simulators.nightscout.support import APP, DEVICE, Caller, entry

DATE = "Bad or missing date field"
UTC = "Bad or missing utcOffset field"
APP_MESSAGE = "Bad or missing app field"


def without(field: str) -> dict[str, Any]:
    document = entry()
    del document[field]
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (without("date"), DATE),
        (entry(date=None), DATE),
        (entry(date="ABC"), DATE),
        (entry(date=-1), DATE),
        (entry(date=1), DATE),
        (entry(date="2019-20-60T50:90:90"), DATE),
        (entry(date=946684800000), DATE),  # must be strictly after 2000-01-01
        (entry(utcOffset="120"), UTC),
        (entry(utcOffset=None), UTC),
        (entry(utcOffset=1441), UTC),
        (entry(utcOffset=-1441), UTC),
        (without("app"), APP_MESSAGE),
        (entry(app=""), APP_MESSAGE),
        (entry(app=" \t"), APP_MESSAGE),
        (entry(app=5), APP_MESSAGE),
    ],
)
async def test_invalid_documents_are_rejected(
    uploader: Caller, document: dict[str, Any], message: str
) -> None:
    for response in (
        await uploader.post("entries", document),
        await uploader.put("entries", "validation", document),
    ):
        assert response.status_code == 400
        assert response.json() == {"status": 400, "message": message}


async def test_utc_offset_limits_are_inclusive(uploader: Caller) -> None:
    assert (await uploader.post("entries", entry(utcOffset=1440))).status_code == 201
    assert (
        await uploader.post("entries", entry(1_700_000_000_001, utcOffset=-1440))
    ).status_code == 201


async def test_nothing_else_is_required(uploader: Caller) -> None:
    minimal = {"date": 1_700_000_000_000, "utcOffset": 0, "app": APP}
    assert (await uploader.post("treatments", minimal)).status_code == 201
    assert (await uploader.post("entries", {**minimal, "device": DEVICE})).status_code == 201


async def test_date_only_in_created_at_is_accepted_and_normalised(
    server: NightscoutTestServer, uploader: Caller
) -> None:
    document = {"created_at": "2023-11-14T23:13:20+01:00", "app": APP, "eventType": "Note"}
    assert (await uploader.post("treatments", document)).status_code == 201
    [stored] = server.store.documents("treatments")
    assert stored["date"] == 1_700_000_000_000
    assert stored["utcOffset"] == 60
    assert stored["created_at"] == "2023-11-14T22:13:20.000Z"


async def test_bad_identifier_is_rejected(uploader: Caller) -> None:
    response = await uploader.post("entries", entry(identifier=5))
    assert response.json() == {"status": 400, "message": "Bad or missing identifier field"}
    blank = await uploader.post("entries", entry(identifier=" "))
    assert blank.json() == {"status": 400, "message": "Bad or missing identifier field"}


async def test_permission_is_checked_before_validation(caller_for: Any) -> None:
    reader = await caller_for("reader", roles=["readable"])
    response = await reader.post("entries", entry(date="ABC"))
    assert response.status_code == 403

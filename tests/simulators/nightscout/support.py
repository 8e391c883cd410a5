"""Helpers for talking to the test server over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

API_SECRET = "test-secret-12chars"
UPLOADER_PERMISSIONS = ("api:*:create", "api:*:update", "api:*:read", "api:*:delete")
BASE_DATE_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DEVICE = "nightstream://test/0123456789ab"
APP = "nightstream-tests"


def entry(date_ms: int = BASE_DATE_MS, **fields: Any) -> dict[str, Any]:
    return {
        "date": date_ms,
        "utcOffset": 0,
        "app": APP,
        "device": DEVICE,
        "type": "sgv",
        "sgv": 120,
        "direction": "Flat",
        **fields,
    }


def treatment(date_ms: int = BASE_DATE_MS, **fields: Any) -> dict[str, Any]:
    return {
        "date": date_ms,
        "utcOffset": 0,
        "app": APP,
        "device": DEVICE,
        "eventType": "Correction Bolus",
        "insulin": 1.5,
        **fields,
    }


@dataclass
class Caller:
    """One authenticated client of API v3."""

    client: httpx.AsyncClient
    jwt: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.jwt}", **(extra or {})}

    async def post(self, collection: str, document: Any) -> httpx.Response:
        return await self.client.post(
            f"/api/v3/{collection}", json=document, headers=self.headers()
        )

    async def put(
        self,
        collection: str,
        identifier: str,
        document: Any,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.put(
            f"/api/v3/{collection}/{identifier}", json=document, headers=self.headers(headers)
        )

    async def patch(
        self,
        collection: str,
        identifier: str,
        changes: Any,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.patch(
            f"/api/v3/{collection}/{identifier}", json=changes, headers=self.headers(headers)
        )

    async def delete(
        self, collection: str, identifier: str, permanent: bool = False
    ) -> httpx.Response:
        params = {"permanent": "true"} if permanent else {}
        return await self.client.delete(
            f"/api/v3/{collection}/{identifier}", params=params, headers=self.headers()
        )

    async def get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.get(
            f"/api/v3/{path}", params=params or {}, headers=self.headers(headers)
        )

    async def read(self, collection: str, identifier: str) -> dict[str, Any]:
        response = await self.get(f"{collection}/{identifier}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        return result

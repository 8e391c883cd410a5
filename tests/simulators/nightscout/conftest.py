from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx
import pytest

from nightstream.simulators.nightscout import NightscoutTestServer
from tests.simulators.nightscout.support import API_SECRET, UPLOADER_PERMISSIONS, Caller
from tests.timing import scaled

CallerFactory = Callable[..., Awaitable[Caller]]


@pytest.fixture
async def server() -> AsyncIterator[NightscoutTestServer]:
    async with NightscoutTestServer(api_secret=API_SECRET) as running:
        yield running


@pytest.fixture
async def client(server: NightscoutTestServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=scaled(5.0)) as http:
        yield http


async def request_jwt(client: httpx.AsyncClient, access_token: str) -> str:
    response = await client.get(f"/api/v2/authorization/request/{access_token}")
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture
def caller_for(server: NightscoutTestServer, client: httpx.AsyncClient) -> CallerFactory:
    """``await caller_for("name", permissions=[...])`` or ``roles=[...]``: a JWT holder."""

    async def make(
        name: str,
        *,
        permissions: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
    ) -> Caller:
        token = server.create_access_token(name, permissions=permissions, roles=roles)
        return Caller(client, await request_jwt(client, token))

    return make


@pytest.fixture
async def uploader(caller_for: CallerFactory) -> Caller:
    """create, update, read and delete on every collection."""
    return await caller_for("uploader", permissions=UPLOADER_PERMISSIONS)

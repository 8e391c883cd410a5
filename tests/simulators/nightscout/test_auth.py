"""Access tokens, JWTs, 401/403 bodies and the failed-auth delay (reference §1, §8)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time

import httpx
import pytest

from nightstream.simulators.nightscout import NightscoutTestServer
from tests.simulators.nightscout.conftest import CallerFactory, request_jwt
from tests.simulators.nightscout.support import API_SECRET, Caller, entry
from tests.timing import scaled


class MutableClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_access_token_is_derived_from_the_secret_and_the_subject_id(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    token = server.create_access_token("Test Reader!", roles=["readable"])
    subjects = await client.get(
        "/api/v2/authorization/subjects", headers={"api-secret": server.api_secret_hash}
    )
    [subject] = subjects.json()
    secret_sha1 = hashlib.sha1(API_SECRET.encode()).hexdigest()  # noqa: S324
    digest = hashlib.sha1((secret_sha1 + subject["_id"]).encode()).hexdigest()  # noqa: S324
    assert token == subject["accessToken"] == f"testreader-{digest[:16]}"
    # Re-creating the subject keeps its id, hence its token.
    assert server.create_access_token("Test Reader!", roles=["admin"]) == token


async def test_request_returns_a_jwt_with_subject_and_permission_groups(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    token = server.create_access_token("sink", permissions=["api:entries:create"])
    response = await client.get(f"/api/v2/authorization/request/{token}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "sub", "permissionGroups", "iat", "exp"}
    assert body["sub"] == "sink"
    assert body["permissionGroups"] == [["api:entries:create"], ["*:*:read"]]
    assert body["exp"] - body["iat"] == 8 * 3600
    header, payload, _signature = body["token"].split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # The access token is readable inside the JWT.
    assert claims == {"accessToken": token, "iat": body["iat"], "exp": body["exp"]}


async def test_token_prefixes_and_sha1_of_the_token_are_accepted(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    token = server.create_access_token("sink", roles=["admin"])
    digest_prefix = token.split("-")[1]
    for accepted in (token, "anything-" + digest_prefix, hashlib.sha1(token.encode()).hexdigest()):  # noqa: S324
        response = await client.get(f"/api/v2/authorization/request/{accepted}")
        assert response.status_code == 200, accepted
    # An unexpired JWT may be swapped for a fresh one.
    jwt = await request_jwt(client, token)
    assert (await client.get(f"/api/v2/authorization/request/{jwt}")).status_code == 200


@pytest.mark.parametrize("bad", ["sink-0123456789abcdef", "short-abc", "nothing"])
async def test_request_with_unknown_token_is_401(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get(f"/api/v2/authorization/request/{bad}")
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "message": "Unauthorized",
        "description": "Invalid/Missing",
    }


async def test_v3_without_authorization_header_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v3/entries")
    assert response.status_code == 401
    assert response.json() == {"status": 401, "message": "Missing or bad access token or JWT"}


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Token abc", "Bearer  two-spaces", "Bearer a b"],
)
async def test_v3_ill_formed_authorization_header_is_401_missing(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/api/v3/entries", headers={"Authorization": header})
    assert response.json() == {"status": 401, "message": "Missing or bad access token or JWT"}


async def test_v3_rejects_api_secret_and_raw_access_tokens(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    token = server.create_access_token("sink", roles=["admin"])
    secret_sha1 = hashlib.sha1(API_SECRET.encode()).hexdigest()  # noqa: S324
    attempts = [
        {"Authorization": f"Bearer {token}"},
        {"Authorization": f"Bearer {secret_sha1}"},
        {"api-secret": secret_sha1},
    ]
    for headers in attempts:
        response = await client.get("/api/v3/entries", headers=headers)
        assert response.status_code == 401, headers
    bad = await client.get("/api/v3/entries", headers={"Authorization": f"Bearer {token}"})
    assert bad.json() == {"status": 401, "message": "Bad access token or JWT"}
    # ?token= was dropped in 15.0.0.
    assert (await client.get("/api/v3/entries", params={"token": token})).status_code == 401


async def test_bearer_scheme_is_case_insensitive_for_v3(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    jwt = await request_jwt(client, server.create_access_token("r", roles=["readable"]))
    response = await client.get("/api/v3/entries", headers={"Authorization": f"bEaReR {jwt}"})
    assert response.status_code == 200


async def test_missing_permission_is_403_with_the_permission_named(
    caller_for: CallerFactory,
) -> None:
    reader = await caller_for("reader", roles=["readable"])
    response = await reader.post("entries", entry())
    assert response.status_code == 403
    assert response.json() == {"status": 403, "message": "Missing permission api:entries:create"}


async def test_no_built_in_role_grants_entries_create(caller_for: CallerFactory) -> None:
    for role in ("careportal", "devicestatus-upload", "activity", "status-only", "denied"):
        caller = await caller_for(f"subject-{role}", roles=[role])
        response = await caller.post("entries", entry())
        assert response.json()["message"] == "Missing permission api:entries:create", role
    careportal = await caller_for("cp", roles=["careportal"])
    assert (
        await careportal.post("treatments", {"eventType": "Note", **entry()})
    ).status_code == 201


async def test_default_roles_are_appended_to_every_token(caller_for: CallerFactory) -> None:
    writer = await caller_for("writer", permissions=["api:entries:create"])
    assert (await writer.get("entries")).status_code == 200


async def test_auth_default_roles_denied_removes_the_free_read() -> None:
    async with (
        NightscoutTestServer(api_secret=API_SECRET, auth_default_roles="denied") as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        token = server.create_access_token("writer", permissions=["api:entries:create"])
        caller = Caller(client, await request_jwt(client, token))
        response = await caller.get("entries")
        assert response.json() == {"status": 403, "message": "Missing permission api:entries:read"}


async def test_settings_search_needs_admin_but_read_needs_read(
    caller_for: CallerFactory,
) -> None:
    reader = await caller_for("reader", roles=["readable"])
    response = await reader.get("settings")
    assert response.json() == {"status": 403, "message": "Missing permission api:settings:admin"}
    assert (await reader.get("settings/some-id")).status_code == 404


async def test_expired_jwt_is_401_and_can_be_renewed_with_the_access_token() -> None:
    clock = MutableClock()
    async with (
        NightscoutTestServer(api_secret=API_SECRET, clock=clock) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        token = server.create_access_token("r", roles=["readable"])
        jwt = await request_jwt(client, token)
        caller = Caller(client, jwt)
        assert (await caller.get("entries")).status_code == 200
        clock.now += 8 * 3600
        expired = await caller.get("entries")
        assert expired.json() == {"status": 401, "message": "Bad access token or JWT"}
        # The expired JWT cannot be swapped, the access token can.
        assert (await client.get(f"/api/v2/authorization/request/{jwt}")).status_code == 401
        caller.jwt = await request_jwt(client, token)
        assert (await caller.get("entries")).status_code == 200


async def test_short_jwt_lifetime_is_configurable() -> None:
    clock = MutableClock()
    async with (
        NightscoutTestServer(api_secret=API_SECRET, jwt_lifetime_seconds=60, clock=clock) as srv,
        httpx.AsyncClient(base_url=srv.url) as client,
    ):
        body = (
            await client.get(
                f"/api/v2/authorization/request/{srv.create_access_token('r', roles=['readable'])}"
            )
        ).json()
        assert body["exp"] - body["iat"] == 60
        clock.now += 59
        assert (await Caller(client, body["token"]).get("entries")).status_code == 200
        clock.now += 1
        assert (await Caller(client, body["token"]).get("entries")).status_code == 401


async def test_jwt_of_a_revoked_subject_gets_403_not_401(
    server: NightscoutTestServer, client: httpx.AsyncClient
) -> None:
    token = server.create_access_token("sink", permissions=["api:*:create"])
    caller = Caller(client, await request_jwt(client, token))
    assert server.remove_subject("sink")
    response = await caller.post("entries", entry())
    assert response.json() == {"status": 403, "message": "Missing permission api:entries:create"}
    assert (await client.get(f"/api/v2/authorization/request/{token}")).status_code == 401


async def test_jwt_signed_by_another_server_is_rejected(client: httpx.AsyncClient) -> None:
    async with NightscoutTestServer(api_secret=API_SECRET) as other:
        foreign = other.issue_jwt(other.create_access_token("r", roles=["readable"]))
    response = await Caller(client, foreign).get("entries")
    assert response.json() == {"status": 401, "message": "Bad access token or JWT"}


async def test_failed_authentication_delays_later_requests_from_that_ip() -> None:
    async with (
        NightscoutTestServer(api_secret=API_SECRET, auth_fail_delay_seconds=0.3) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        jwt = await request_jwt(client, server.create_access_token("r", roles=["readable"]))
        bad = {"Authorization": "Bearer not-a-jwt", "X-Forwarded-For": "10.0.0.1"}
        good = {"Authorization": f"Bearer {jwt}", "X-Forwarded-For": "10.0.0.1"}
        # Each failure pushes the address's "not before" out by another 0.3 s, and every
        # request from it (good ones too) waits for that time before it is looked at.
        started = time.monotonic()
        failures = await asyncio.gather(
            *(client.get("/api/v3/entries", headers=bad) for _ in range(3))
        )
        assert [response.status_code for response in failures] == [401, 401, 401]
        assert (await client.get("/api/v3/entries", headers=good)).status_code == 200
        assert time.monotonic() - started >= 0.85
        # The success cleared the delay; another address never had one.
        started = time.monotonic()
        await client.get("/api/v3/entries", headers=good)
        await client.get("/api/v3/entries", headers={**good, "X-Forwarded-For": "10.0.0.2"})
        assert time.monotonic() - started < scaled(0.25)


async def test_requests_without_credentials_are_not_delayed() -> None:
    async with (
        NightscoutTestServer(api_secret=API_SECRET, auth_fail_delay_seconds=0.3) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        await client.get("/api/v3/entries", headers={"Authorization": "Bearer not-a-jwt"})
        started = time.monotonic()
        assert (await client.get("/api/v3/entries")).status_code == 401
        assert time.monotonic() - started < scaled(0.2)


async def test_security_can_be_switched_off() -> None:
    async with (
        NightscoutTestServer(api_secret=API_SECRET, api3_security_enabled=False) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        response = await client.post("/api/v3/entries", json=entry())
        assert response.status_code == 201
        assert "subject" not in server.store.documents("entries")[0]


def test_api_secret_shorter_than_12_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="12"):
        NightscoutTestServer(api_secret="short")


async def test_version_is_public_status_and_last_modified_need_a_jwt(
    client: httpx.AsyncClient, uploader: Caller
) -> None:
    version = await client.get("/api/v3/version")
    assert version.status_code == 200
    assert version.json()["result"]["version"] == "15.0.7"
    assert version.json()["result"]["apiVersion"] == "3.0.3-alpha"
    assert (await client.get("/api/v3/status")).status_code == 401
    assert (await client.get("/api/v3/lastModified")).status_code == 401
    status = await uploader.get("status")
    # The real permsForCol bug: only wildcard grants are reported.
    assert status.json()["result"]["apiPermissions"]["entries"] == "crud"


async def test_status_permissions_ignore_collection_specific_grants(
    caller_for: CallerFactory,
) -> None:
    caller = await caller_for("specific", permissions=["api:entries:create"])
    status = await caller.get("status")
    # "r" comes from the default role's "*:*:read"; "api:entries:create" never shows.
    assert set(status.json()["result"]["apiPermissions"].values()) == {"r"}

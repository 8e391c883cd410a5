"""API v3 writes: ``PUT /api/v3/{collection}/{identifier}``, one document each.

201 inserted, 200 replaced, 410 deleted by the user (never resurrected), 4xx rejected.
A 401 or 403 gets one fresh JWT and one more try; a second one in a row is final.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from nightstream.schemas.documents import Collection
from nightstream.sinks.nightscout.answers import HOW_TO_GET_ACCESS, json_field
from nightstream.sinks.nightscout.json_body import client_fields, encode, identifier_problem
from nightstream.sinks.nightscout.jwt_auth import JwtAuth
from nightstream.sinks.nightscout.keyed_locks import KeyedLocks
from nightstream.sinks.nightscout.outcomes import WriteOutcome, WriteStatus
from nightstream.sinks.nightscout.retrying import RetryLater
from nightstream.sinks.nightscout.stopping import DeadlinePassed
from nightstream.sinks.nightscout.target_http import TargetHttp

_V3_BODY_LIMIT = 50 * 1024 * 1024


class V3Writer:
    def __init__(self, http: TargetHttp, auth: JwtAuth, locks: KeyedLocks) -> None:
        self._http = http
        self._auth = auth
        self._locks = locks

    async def put(
        self, collection: Collection, identifier: str, document: Mapping[str, Any]
    ) -> WriteOutcome:
        problem = identifier_problem(identifier)
        if problem is not None:
            return WriteOutcome(WriteStatus.REJECTED, collection, identifier, message=problem)
        body = client_fields(document)
        # A foreign _id makes Mongo's replace fail, which v3 reports as a retriable-looking 500.
        body.pop("_id", None)
        body["identifier"] = identifier
        try:
            content = encode(body)
        except ValueError as exc:
            return WriteOutcome(WriteStatus.REJECTED, collection, identifier, message=str(exc))
        if len(content) > _V3_BODY_LIMIT:
            message = f"document is {len(content)} bytes; Nightscout accepts at most 50 MiB"
            return WriteOutcome(WriteStatus.REJECTED, collection, identifier, message=message)

        path = f"/api/v3/{collection.value}/{identifier}"
        async with self._locks.hold((collection, identifier)):
            response = await self.send("PUT", path, content, what=f"PUT {path}")
        return self._outcome(collection, identifier, response)

    def _outcome(
        self, collection: Collection, identifier: str, response: httpx.Response
    ) -> WriteOutcome:
        answers = self._http.answers
        status = response.status_code
        if status == 201:
            kind = WriteStatus.WRITTEN_CREATED
        elif 200 <= status < 300:
            kind = WriteStatus.WRITTEN_REPLACED
        elif status == 410:
            kind = WriteStatus.DELETED_BY_USER
        elif status == 403:
            raise answers.forbidden(response)
        elif status in (404, 405):
            raise answers.endpoint_missing(response, f"/api/v3/{collection.value}")
        else:
            return WriteOutcome(
                WriteStatus.REJECTED,
                collection,
                identifier,
                http_status=status,
                message=answers.server_message(response),
            )
        last_modified = json_field(response, "lastModified")
        return WriteOutcome(
            kind,
            collection,
            identifier,
            http_status=status,
            last_modified=last_modified if isinstance(last_modified, int) else None,
        )

    async def send(
        self, method: str, path: str, content: bytes | None, *, what: str
    ) -> httpx.Response:
        """Send with a JWT until the answer is final (retrying what may pass later)."""
        auth_retried = False

        async def attempt() -> httpx.Response:
            nonlocal auth_retried
            jwt: str | None = None
            try:
                async with self._http.attempt_slot():
                    # Read the JWT only once a slot is ours, so that writes queued behind an
                    # expired JWT do not all try it: each 401 adds to the server's IP delay.
                    jwt = (await self._auth.current()).token
                    headers = {"Authorization": f"Bearer {jwt}"}
                    response = await self._http.exchange(method, path, content, headers)
            except (RetryLater, DeadlinePassed):
                if jwt is not None:
                    # The server may be redeployed meanwhile (new JWT key): the next 401 is new.
                    auth_retried = False
                raise
            if response.status_code in (401, 403):
                assert jwt is not None
                self._auth.distrust(jwt)
            return response

        while True:
            response = await self._http.retry.run(attempt, what)
            if response.status_code in (401, 403) and not auth_retried:
                # Regenerated server keys, an expired JWT or a changed subject all look like
                # this; a fresh JWT settles it. Never in a loop: each 401 costs ~5 s of IP delay.
                auth_retried = True
                continue
            if response.status_code == 401:
                answers = self._http.answers
                raise answers.fatal(
                    f"Nightscout rejects JWTs issued for the access token "
                    f"({answers.status_text(response)}). The token is probably revoked or was "
                    f"invalidated by an API_SECRET change. {HOW_TO_GET_ACCESS}"
                )
            return response

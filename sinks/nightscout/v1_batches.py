"""API v1 writes for old servers: arrays POSTed to ``/api/v1/{collection}`` with ``api-secret``.

As few requests as the body limits allow; a batch the server rejects as a whole (400, 413, 422)
is split in halves until the bad documents are found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from nightstream.schemas.documents import Collection
from nightstream.sinks.nightscout.json_body import client_fields, encode, optional_identifier
from nightstream.sinks.nightscout.keyed_locks import KeyedLocks
from nightstream.sinks.nightscout.outcomes import WriteOutcome, WriteStatus
from nightstream.sinks.nightscout.redaction import sha1_hex
from nightstream.sinks.nightscout.target_http import TargetHttp

# body-parser's "1mb" is 1 MiB; stay a little under it for the framing of the array.
_V1_BODY_LIMITS = {Collection.DEVICESTATUS: 1_000_000}
_V1_DEFAULT_BODY_LIMIT = 40 * 1024 * 1024
V1_MAX_DOCUMENTS = 1000


class V1Writer:
    def __init__(self, http: TargetHttp, locks: KeyedLocks) -> None:
        self._http = http
        self._locks = locks

    async def post_batch(
        self, collection: Collection, documents: Sequence[Mapping[str, Any]]
    ) -> list[WriteOutcome]:
        """One outcome per document, in order."""
        outcomes: list[WriteOutcome | None] = [None] * len(documents)
        limit = _V1_BODY_LIMITS.get(collection, _V1_DEFAULT_BODY_LIMIT)
        encoded: dict[int, bytes] = {}
        for index, document in enumerate(documents):
            identifier = optional_identifier(document)
            try:
                encoded[index] = encode(client_fields(document))
            except ValueError as exc:
                outcomes[index] = WriteOutcome(
                    WriteStatus.REJECTED, collection, identifier, message=str(exc)
                )
                continue
            if len(encoded[index]) + 2 > limit:
                del encoded[index]
                outcomes[index] = WriteOutcome(
                    WriteStatus.REJECTED,
                    collection,
                    identifier,
                    message=f"document is larger than the {limit} bytes {collection.value} "
                    "accepts in one v1 request",
                )

        identifiers = {optional_identifier(documents[i]) for i in encoded}
        keys = [(collection, i) for i in identifiers if i is not None]
        async with self._locks.hold_all(keys):
            for chunk in pack(encoded, limit):
                await self._post_chunk(collection, chunk, encoded, documents, outcomes)
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(documents)
        return done

    async def _post_chunk(
        self,
        collection: Collection,
        chunk: list[int],
        encoded: Mapping[int, bytes],
        documents: Sequence[Mapping[str, Any]],
        outcomes: list[WriteOutcome | None],
    ) -> None:
        path = f"/api/v1/{collection.value}"
        content = b"[" + b",".join(encoded[i] for i in chunk) + b"]"
        response = await self.send("POST", path, content, what=f"POST {path}")
        status = response.status_code
        if status in (401, 403):
            raise self._http.answers.secret_rejected(response)
        if status in (404, 405):
            raise self._http.answers.endpoint_missing(response, path)
        if 200 <= status < 300:
            for i in chunk:
                outcomes[i] = WriteOutcome(
                    WriteStatus.WRITTEN_V1,
                    collection,
                    optional_identifier(documents[i]),
                    http_status=status,
                )
            return
        if len(chunk) > 1 and status in (400, 413, 422):
            half = len(chunk) // 2
            await self._post_chunk(collection, chunk[:half], encoded, documents, outcomes)
            await self._post_chunk(collection, chunk[half:], encoded, documents, outcomes)
            return
        message = self._http.answers.server_message(response)
        for i in chunk:
            outcomes[i] = WriteOutcome(
                WriteStatus.REJECTED,
                collection,
                optional_identifier(documents[i]),
                http_status=status,
                message=message,
            )

    async def send(
        self, method: str, path: str, content: bytes | None, *, what: str
    ) -> httpx.Response:
        """Send with the API secret until the answer is final (retrying what may pass later)."""
        secret = self._http.config.api_secret
        assert secret is not None
        headers = {"api-secret": sha1_hex(secret)}

        async def attempt() -> httpx.Response:
            async with self._http.attempt_slot():
                return await self._http.exchange(method, path, content, headers)

        return await self._http.retry.run(attempt, what)


def pack(encoded: Mapping[int, bytes], limit: int) -> list[list[int]]:
    """Group documents, in order, into arrays whose JSON stays within ``limit`` bytes."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 2
    for index, body in encoded.items():
        extra = len(body) + (1 if current else 0)
        if current and (size + extra > limit or len(current) >= V1_MAX_DOCUMENTS):
            chunks.append(current)
            current, size, extra = [], 2, len(body)
        current.append(index)
        size += extra
    if current:
        chunks.append(current)
    return chunks

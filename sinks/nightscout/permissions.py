"""The target self-test: is the credential accepted, may it write, can each collection be read."""

from __future__ import annotations

from collections.abc import Iterable

from nightstream.schemas.documents import Collection
from nightstream.sinks.nightscout.answers import ROLE_HELP, WRITE_PERMISSIONS
from nightstream.sinks.nightscout.jwt_auth import Jwt, JwtAuth
from nightstream.sinks.nightscout.retrying import RetryLater
from nightstream.sinks.nightscout.stopping import DeadlinePassed
from nightstream.sinks.nightscout.target_http import TargetHttp
from nightstream.sinks.nightscout.v1_batches import V1Writer
from nightstream.sinks.nightscout.v3_writes import V3Writer


class PermissionProbe:
    def __init__(self, http: TargetHttp, auth: JwtAuth, v3: V3Writer, v1: V1Writer) -> None:
        self._http = http
        self._auth = auth
        self._v3 = v3
        self._v1 = v1

    async def self_test(self) -> str:
        """A summary; raises TargetFatalError when the sink could not write."""
        config = self._http.config
        lines = [f"target {config.name}: {config.base_url} (API {config.api_version})"]
        if config.api_version == "v3":
            lines += await self._check_jwt()
        for collection in Collection:
            lines.append(f"{collection.value}: {await self._probe_read(collection)}")
        return "\n".join(lines)

    async def _check_jwt(self) -> list[str]:
        async def fetch() -> None:
            async with self._http.attempt_slot():
                await self._auth.current()

        await self._http.retry.run(fetch, "JWT request")
        jwt = await self._auth.current()
        lines = [
            f"access token accepted: subject {jwt.subject or '(unnamed)'}, "
            f"JWT valid for {_duration(jwt.lifetime)}"
        ]
        if jwt.permission_groups is None:
            return [*lines, "permissions: not listed by the server; not checked"]
        self._require_write_permissions(jwt)
        return [*lines, "permissions: create and update granted on every collection"]

    async def check_at_start(self) -> bool:
        """One JWT exchange, not retried (a role starting with thousands of sites): True once
        the token is known to hold every write permission, False when the site could not tell
        (not answering, no permissions listed, API v1), its writes then find out. Raises
        ``TargetFatalError`` when the token is refused or lacks a permission."""
        if self._http.config.api_version != "v3":
            return False
        try:
            async with self._http.attempt_slot():
                jwt = await self._auth.current()
        except (RetryLater, DeadlinePassed):
            return False
        if jwt.permission_groups is None:
            return False
        self._require_write_permissions(jwt)
        return True

    def _require_write_permissions(self, jwt: Jwt) -> None:
        assert jwt.permission_groups is not None
        missing = [p for p in WRITE_PERMISSIONS if not granted(jwt.permission_groups, p)]
        if missing:
            raise self._http.answers.fatal(
                f"the access token lacks permission {', '.join(missing)}. {ROLE_HELP}"
            )

    async def _probe_read(self, collection: Collection) -> str:
        answers = self._http.answers
        if self._http.config.api_version == "v3":
            path = f"/api/v3/{collection.value}?limit=1&sort$desc=date"
            response = await self._v3.send("GET", path, None, what=f"GET {path}")
        else:
            path = f"/api/v1/{collection.value}?count=1"
            response = await self._v1.send("GET", path, None, what=f"GET {path}")
            if response.status_code in (401, 403):
                raise answers.secret_rejected(response)
        if response.status_code != 200:
            return f"read failed ({answers.status_text(response)}); writing does not need it"
        try:
            payload = response.json()
        except ValueError:
            return "read answered 200 but not with JSON"
        result = payload.get("result") if isinstance(payload, dict) else payload
        if not isinstance(result, list):
            return "read OK"
        if not result:
            return "read OK, no documents yet"
        latest = result[0] if isinstance(result[0], dict) else {}
        return f"read OK, latest document date {latest.get('date') or latest.get('created_at')}"


def granted(groups: Iterable[Iterable[str]], permission: str) -> bool:
    """Shiro-style match as Nightscout does it: ``*`` and ``a,b`` parts, short grants imply more."""
    wanted = permission.split(":")
    for group in groups:
        for grant in group:
            parts = grant.split(":")
            if all(
                i >= len(parts) or parts[i] == "*" or part in parts[i].split(",")
                for i, part in enumerate(wanted)
            ) and all(p == "*" for p in parts[len(wanted) :]):
                return True
    return False


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{seconds:.0f} s"

"""Subjects, roles, access tokens and JWTs (`lib/authorization/*`, `lib/server/enclave.js`).

An access token is ``<abbrev>-<16 hex of SHA1(SHA1hex(API_SECRET) + subject id)>``; it is only
ever exchanged for a JWT at ``/api/v2/authorization/request/<token>``. API v3 accepts nothing but
that JWT; API v1 also accepts the API secret's SHA-1 (or SHA-512) hex.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nightstream.simulators.nightscout import jwt_hs256
from nightstream.simulators.nightscout.dates import to_iso_string
from nightstream.simulators.nightscout.identifiers import new_object_id
from nightstream.simulators.nightscout.permissions import EVERYTHING, Grant, PermissionTrie
from nightstream.simulators.nightscout.settings import ServerSettings

# `lib/authorization/storage.js` defaultRoles: present even when the database has none.
BUILT_IN_ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("*",),
    "denied": (),
    "status-only": ("api:status:read",),
    "readable": ("*:*:read",),
    "careportal": ("api:treatments:create",),
    "devicestatus-upload": ("api:devicestatus:create",),
    "activity": ("api:activity:create",),
}


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - the real token scheme


@dataclass
class Role:
    name: str
    permissions: tuple[str, ...]
    object_id: str = ""
    notes: str = ""


@dataclass
class Subject:
    object_id: str
    name: str
    roles: list[str] | None
    notes: str = ""
    created_at: str = ""
    digest: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    access_token_digest: str = field(default="", repr=False)


@dataclass(frozen=True)
class Authorization:
    """The outcome of a successful authentication: who (if anyone) and what they may do."""

    subject: Subject | None
    grant: Grant

    def allows(self, permission: str) -> bool:
        return self.grant.allows(permission)

    @property
    def subject_name(self) -> str | None:
        return self.subject.name if self.subject is not None else None


class AccessControl:
    def __init__(self, settings: ServerSettings) -> None:
        self._settings = settings
        self._api_secret_sha1 = sha1_hex(settings.api_secret)
        self._api_secret_sha512 = hashlib.sha512(settings.api_secret.encode()).hexdigest()
        self._jwt_key = settings.jwt_key or secrets.token_bytes(32)
        self._custom_roles: dict[str, Role] = {}
        self._subjects: dict[str, Subject] = {}

    # -- administration -------------------------------------------------------------------

    def add_role(self, name: str, permissions: Iterable[str], notes: str = "") -> Role:
        """Create or redefine a role; a custom role shadows a built-in role of the same name."""
        existing = self._custom_roles.get(name)
        object_id = existing.object_id if existing else new_object_id(self._settings.clock())
        role = Role(name, tuple(permissions), object_id, notes)
        self._custom_roles[name] = role
        return role

    def roles(self) -> list[Role]:
        merged = dict(self._custom_roles)
        for name, permissions in BUILT_IN_ROLES.items():
            merged.setdefault(name, Role(name, permissions))
        return sorted(merged.values(), key=lambda role: role.name)

    def find_role(self, name: str) -> Role | None:
        if name in self._custom_roles:
            return self._custom_roles[name]
        if name in BUILT_IN_ROLES:
            return Role(name, BUILT_IN_ROLES[name])
        return None

    def add_subject(
        self,
        name: str,
        roles: Sequence[str] | None,
        notes: str = "",
        object_id: str | None = None,
    ) -> Subject:
        object_id = object_id or new_object_id(self._settings.clock())
        digest = sha1_hex(self._api_secret_sha1 + object_id)
        abbreviation = re.sub(r"\W", "", name.lower(), flags=re.ASCII)[:10]
        access_token = f"{abbreviation}-{digest[:16]}"
        subject = Subject(
            object_id=object_id,
            name=name,
            roles=list(roles) if roles is not None else None,
            notes=notes,
            created_at=to_iso_string(self._settings.now_ms()),
            digest=digest,
            access_token=access_token,
            access_token_digest=sha1_hex(access_token),
        )
        self._subjects[object_id] = subject
        return subject

    def remove_subject(self, object_id: str) -> bool:
        return self._subjects.pop(object_id, None) is not None

    def subjects(self) -> list[Subject]:
        return sorted(self._subjects.values(), key=lambda subject: subject.name)

    def find_subject_by_name(self, name: str) -> Subject | None:
        return next((subject for subject in self.subjects() if subject.name == name), None)

    # -- tokens ---------------------------------------------------------------------------

    def find_subject(self, access_token: str) -> Subject | None:
        """``storage.findSubject``: the part after the last ``-`` must be >= 16 characters."""
        if not access_token:
            return None
        suffix = access_token.split("-")[-1]
        if len(suffix) < 16:
            return None
        for subject in self.subjects():
            if subject.access_token_digest.startswith(access_token) or subject.digest.startswith(
                suffix
            ):
                return subject
        return None

    def is_api_secret_hash(self, value: str) -> bool:
        """``enclave.isApiKey``: SHA-1 hex (any case) or SHA-512 hex of API_SECRET."""
        return value.lower() == self._api_secret_sha1 or value == self._api_secret_sha512

    def default_role_names(self) -> tuple[str, ...]:
        return self._settings.auth_default_roles

    def role_permissions(self, role_name: str) -> tuple[str, ...]:
        role = self.find_role(role_name)
        return role.permissions if role else ()

    def _grant_for_roles(self, role_names: Iterable[str]) -> list[PermissionTrie]:
        return [
            PermissionTrie(role.permissions)
            for role in (self.find_role(name) for name in role_names)
            if role is not None
        ]

    def default_grant(self) -> Grant:
        return Grant(self._grant_for_roles(self.default_role_names()))

    def authorization_for_access_token(self, access_token: str) -> Authorization | None:
        """``resolveAccessToken``: None when no subject has this token any more."""
        subject = self.find_subject(access_token)
        if subject is None:
            return None
        tries = self._grant_for_roles(subject.roles or ())
        tries += self._grant_for_roles(self.default_role_names())
        return Authorization(subject, Grant(tries))

    @staticmethod
    def admin_authorization() -> Authorization:
        return Authorization(None, EVERYTHING)

    def sign_jwt(self, access_token: str) -> tuple[str, int, int]:
        issued_at = int(self._settings.clock())
        expires = issued_at + self._settings.jwt_lifetime_seconds
        token = jwt_hs256.sign(
            {"accessToken": access_token, "iat": issued_at, "exp": expires}, self._jwt_key
        )
        return token, issued_at, expires

    def verify_jwt(self, token: str) -> dict[str, Any] | None:
        return jwt_hs256.verify(token, self._jwt_key, self._settings.clock())

    def access_token_from_jwt(self, token: str) -> str | None:
        payload = self.verify_jwt(token)
        if payload is None:
            return None
        access_token = payload.get("accessToken")
        return access_token if isinstance(access_token, str) and access_token else None

    def authorize(self, access_token_or_jwt: str) -> dict[str, Any] | None:
        """``authorization.authorize``: the body of ``/api/v2/authorization/request/<token>``."""
        user_token = self.access_token_from_jwt(access_token_or_jwt) or access_token_or_jwt
        subject = self.find_subject(user_token)
        if subject is None:
            return None
        token, issued_at, expires = self.sign_jwt(subject.access_token)
        role_names = list(self.default_role_names())
        if subject.roles is not None:
            role_names = list(dict.fromkeys([*subject.roles, *role_names]))
        return {
            "token": token,
            "sub": subject.name,
            "permissionGroups": [list(self.role_permissions(name)) for name in role_names],
            "iat": issued_at,
            "exp": expires,
        }


class FailedAuthDelays:
    """`lib/authorization/delaylist.js`: each failed authentication from an IP pushes that IP's
    "do not answer before" time out by the delay; a success clears it."""

    def __init__(self, delay_seconds: float) -> None:
        self._delay_seconds = delay_seconds
        self._not_before: dict[str, float] = {}

    def remaining_seconds(self, ip: str) -> float:
        not_before = self._not_before.get(ip)
        if not_before is None:
            return 0.0
        return max(0.0, not_before - time.monotonic())

    def record_failure(self, ip: str) -> None:
        now = time.monotonic()
        start = max(self._not_before.get(ip, now), now)
        self._not_before[ip] = start + self._delay_seconds

    def record_success(self, ip: str) -> None:
        self._not_before.pop(ip, None)

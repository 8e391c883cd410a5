"""One Nightscout site's data, tokens and faults, as tests look at and change them.

``NightscoutTestServer`` is one site on its own port; ``MultiSiteTestServer`` holds many.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nightstream.simulators.nightscout.admin import create_access_token
from nightstream.simulators.nightscout.auth import sha1_hex
from nightstream.simulators.nightscout.faults import Faults
from nightstream.simulators.nightscout.settings import (
    DEFAULT_JWT_LIFETIME_SECONDS,
    ServerSettings,
    split_roles,
)
from nightstream.simulators.nightscout.state import ServerState
from nightstream.simulators.nightscout.stats import RequestStats
from nightstream.simulators.nightscout.storage import DocumentStore


def site_settings(
    api_secret: str,
    *,
    auth_default_roles: str = "readable",
    auth_fail_delay_seconds: float = 0.05,
    jwt_lifetime_seconds: int = DEFAULT_JWT_LIFETIME_SECONDS,
    insecure_use_http: bool = True,
    api3_security_enabled: bool = True,
    api3_dedup_fallback_enabled: bool = True,
    api3_created_at_fallback_enabled: bool = True,
    api3_max_limit: int = 1000,
    uuid_handling: bool = True,
    jwt_key: bytes | None = None,
    clock: Callable[[], float] = time.time,
) -> ServerSettings:
    """A site's settings; ``insecure_use_http`` defaults to True here, unlike the real one."""
    return ServerSettings(
        api_secret=api_secret,
        auth_default_roles=split_roles(auth_default_roles),
        auth_fail_delay_seconds=auth_fail_delay_seconds,
        jwt_lifetime_seconds=jwt_lifetime_seconds,
        insecure_use_http=insecure_use_http,
        api3_security_enabled=api3_security_enabled,
        api3_dedup_fallback_enabled=api3_dedup_fallback_enabled,
        api3_created_at_fallback_enabled=api3_created_at_fallback_enabled,
        api3_max_limit=api3_max_limit,
        uuid_handling=uuid_handling,
        jwt_key=jwt_key,
        clock=clock,
    )


class SiteControl:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._state = ServerState.create(settings)

    def let_go(self) -> None:
        """The site stops serving: requests it holds (hanging faults) let go."""
        self._state.stopping = True

    @property
    def store(self) -> DocumentStore:
        return self._state.store

    @property
    def stats(self) -> RequestStats:
        return self._state.stats

    @property
    def faults(self) -> Faults:
        return self._state.fault_injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._state.set_faults(faults)

    @property
    def api_secret_hash(self) -> str:
        """The ``api-secret`` header value for API v1 and ``/__testserver/``."""
        return sha1_hex(self.settings.api_secret)

    def create_access_token(
        self,
        name: str,
        *,
        permissions: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
    ) -> str:
        """Create (or redefine) subject ``name`` and return its access token. ``permissions``
        become a role of its own (``<name>-role``); ``roles`` names existing or built-in roles.
        The token is derived from API_SECRET and the subject's id, as on the real server."""
        return create_access_token(
            self._state,
            name,
            list(permissions) if permissions is not None else None,
            list(roles) if roles is not None else None,
        )

    def create_role(self, name: str, permissions: Sequence[str]) -> None:
        self._state.access.add_role(name, permissions)

    def remove_subject(self, name: str) -> bool:
        """Revoke a subject: its access token stops working, its unexpired JWTs get 403s."""
        subject = self._state.access.find_subject_by_name(name)
        return subject is not None and self._state.access.remove_subject(subject.object_id)

    def issue_jwt(self, access_token: str) -> str:
        """What ``GET /api/v2/authorization/request/<token>`` would return as ``token``."""
        granted = self._state.access.authorize(access_token)
        if granted is None:
            raise ValueError("no subject has this access token")
        return str(granted["token"])

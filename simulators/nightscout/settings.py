"""Server settings, named after the cgm-remote-monitor environment variables they mirror."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

NIGHTSCOUT_VERSION = "15.0.7"
API3_VERSION = "3.0.3-alpha"
MIN_API_SECRET_LENGTH = 12
DEFAULT_JWT_LIFETIME_SECONDS = 8 * 3600


def split_roles(roles: str) -> tuple[str, ...]:
    """AUTH_DEFAULT_ROLES is split on spaces, commas and colons (`lib/authorization/index.js`)."""
    return tuple(re.split(r"[, :]", roles))


@dataclass(frozen=True)
class ServerSettings:
    api_secret: str
    # AUTH_DEFAULT_ROLES: roles appended to every token and granted to anonymous v1 requests.
    auth_default_roles: tuple[str, ...] = ("readable",)
    # AUTH_FAIL_DELAY (the real default is 5 s; its own test suite uses 50 ms).
    auth_fail_delay_seconds: float = 0.05
    jwt_lifetime_seconds: int = DEFAULT_JWT_LIFETIME_SECONDS
    # INSECURE_USE_HTTP: when false, plain-HTTP requests are redirected to https.
    insecure_use_http: bool = True
    api3_security_enabled: bool = True
    api3_dedup_fallback_enabled: bool = True
    api3_created_at_fallback_enabled: bool = True
    api3_max_limit: int = 1000
    uuid_handling: bool = True
    predictions_max_size: int = 288
    # The real server keeps the JWT key in node_modules/.cache/_ns_cache/randomString.
    jwt_key: bytes | None = None
    # Wall clock in seconds; injectable so tests can move time (JWT expiry, srvModified).
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if len(self.api_secret) < MIN_API_SECRET_LENGTH:
            raise ValueError(
                f"API_SECRET must be at least {MIN_API_SECRET_LENGTH} characters "
                "(the real server refuses to start otherwise)"
            )
        if self.api3_max_limit < 1:
            raise ValueError("api3_max_limit must be at least 1")
        if self.jwt_lifetime_seconds < 0:
            raise ValueError("jwt_lifetime_seconds must not be negative")

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

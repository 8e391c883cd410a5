"""What the sink needs to know about one Nightscout target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import httpx

from nightstream.schemas.backoff import RetryPolicy

ApiVersion = Literal["v3", "v1"]


@dataclass(frozen=True, kw_only=True)
class NightscoutTargetConfig:
    name: str
    """Names the target in logs and errors."""
    base_url: str
    access_token: str | None = field(default=None, repr=False)
    """v3 credential: a subject's access token from Admin Tools (never the API secret)."""
    api_version: ApiVersion = "v3"
    api_secret: str | None = field(default=None, repr=False)
    """v1 credential only; sent as the SHA-1 hex of the secret in the ``api-secret`` header."""
    connect_timeout: float = 10.0
    request_timeout: float = 30.0
    """Deadline of one attempt: the whole exchange (JWT refresh included) once a slot is ours."""
    max_concurrency: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    verify_tls: bool = True
    stop_drain_seconds: float = 3.0
    """Once the process is asked to stop, attempts already on the wire get this long to be
    answered (so a healthy target's batch can still be committed); then they are abandoned."""

    def __post_init__(self) -> None:
        if self.api_version not in ("v3", "v1"):
            raise ValueError(f"target {self.name}: api_version must be 'v3' or 'v1'")
        if self.api_version == "v3" and not self.access_token:
            raise ValueError(f"target {self.name}: API v3 needs an access token")
        if self.api_version == "v1" and not self.api_secret:
            raise ValueError(f"target {self.name}: API v1 needs the API secret")
        if self.max_concurrency < 1:
            raise ValueError(f"target {self.name}: max_concurrency must be >= 1")
        if self.connect_timeout <= 0 or self.request_timeout <= 0:
            raise ValueError(f"target {self.name}: timeouts must be > 0")
        if self.stop_drain_seconds < 0:
            raise ValueError(f"target {self.name}: stop_drain_seconds must be >= 0")
        try:
            url = httpx.URL(self.base_url)
        except httpx.InvalidURL:
            raise ValueError(f"target {self.name}: base_url is not a valid URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"target {self.name}: base_url must be an http(s) URL with a host")
        if url.userinfo or url.query:
            # The usual mistake is pasting a URL with ?token=... or user:secret@ in it.
            raise ValueError(
                f"target {self.name}: base_url must not carry credentials or a query; "
                "put the token in access_token"
            )

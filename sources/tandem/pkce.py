"""PKCE (RFC 7636, method S256) as Tandem's login uses it: 64 random bytes for the verifier."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

VERIFIER_BYTES = 64


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def challenge_for(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str
    challenge: str
    method: str = "S256"

    @classmethod
    def new(cls) -> Pkce:
        verifier = _b64url(secrets.token_bytes(VERIFIER_BYTES))
        return cls(verifier, challenge_for(verifier))

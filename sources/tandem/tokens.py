"""The tokens a login gives, and the id_token claims the client needs (``pumperId``).

The id_token comes straight from the token endpoint over TLS, so its signature is not checked
against the JWKS (OpenID Connect Core §3.1.3.7 allows TLS server validation instead); issuer,
audience and expiry are checked. Tandem has no refresh token: a new login replaces the tokens.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from nightstream.schemas.errors import RetriableError
from nightstream.sources.secret import Secret

# Renew this long before the access token expires: a poll must not start with a token that
# dies half-way through its windows.
RENEW_MARGIN_MS = 5 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: Secret
    expires_at_ms: int
    pumper_id: Secret
    issued_at_ms: int

    def usable(self, now_ms: int) -> bool:
        return now_ms < self.expires_at_ms - RENEW_MARGIN_MS

    def __repr__(self) -> str:
        return f"Tokens(expires_at_ms={self.expires_at_ms})"


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWS compact token; RetriableError when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise RetriableError("Tandem sent an id_token that is not a JWT")
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        raise RetriableError("Tandem sent an id_token whose claims are unreadable") from None
    if not isinstance(claims, dict):
        raise RetriableError("Tandem sent an id_token whose claims are not an object")
    return claims


def check_claims(claims: dict[str, Any], *, issuer: str, now_ms: int) -> None:
    if claims.get("iss") != issuer:
        raise RetriableError("Tandem sent an id_token from another issuer")
    # The audience is not checked: Tandem's tokens have not always named the client id that
    # asked (the reference's client retries without that check for the same reason).
    expiry = claims.get("exp")
    if isinstance(expiry, int | float) and not isinstance(expiry, bool) and expiry * 1000 < now_ms:
        raise RetriableError("Tandem sent an id_token that has already expired")

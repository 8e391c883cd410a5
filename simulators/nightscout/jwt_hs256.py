"""HS256 JSON Web Tokens, signed and verified as npm ``jsonwebtoken`` 9 does for this server."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sign(payload: dict[str, Any], key: bytes) -> str:
    signing_input = (
        _b64url_encode(_compact_json(_HEADER)) + "." + _b64url_encode(_compact_json(payload))
    )
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url_encode(signature)


def verify(token: str, key: bytes, now_seconds: float) -> dict[str, Any] | None:
    """The payload of a well-signed, unexpired token, else None (``enclave.verifyJWT``)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header_text, payload_text, signature_text = parts
    try:
        header = json.loads(_b64url_decode(header_text))
        payload = json.loads(_b64url_decode(payload_text))
        signature = _b64url_decode(signature_text)
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return None
    expected = hmac.new(
        key, f"{header_text}.{payload_text}".encode("ascii"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(signature, expected) or not isinstance(payload, dict):
        return None
    expires = payload.get("exp")
    if expires is not None and (
        not isinstance(expires, int | float) or int(now_seconds) >= expires
    ):
        return None
    not_before = payload.get("nbf")
    if isinstance(not_before, int | float) and int(now_seconds) < not_before:
        return None
    return payload

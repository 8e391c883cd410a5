"""Keep the bearer ticket out of what is published.

Every authenticated LibreLinkUp answer carries a fresh ``ticket`` (valid for months). Raw
payloads are kept forever, so the token's text is replaced before a body leaves the client;
every other byte stays as received. Tokens are base64url/JWT text, which JSON never escapes,
so a byte replacement finds them and keeps the JSON valid; should a server ever escape one, the
body is written again with the ticket emptied rather than published with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from nightstream.sources.librelinkup.reply import field

REDACTED = "redacted"


def without_tokens(body: bytes, tokens: Iterable[str]) -> bytes:
    secrets = {token for token in tokens if token}
    for token in secrets:
        body = body.replace(token.encode("utf-8"), REDACTED.encode())
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return body
    if field(value, "ticket", "token") not in secrets:
        return body
    value["ticket"]["token"] = REDACTED
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

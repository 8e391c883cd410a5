"""Turning a document into the JSON body Nightscout gets."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

SERVER_MANAGED_FIELDS = frozenset({"srvModified", "srvCreated", "subject", "modifiedBy", "isValid"})
# v3 reads anything after a "." in the last path segment as an output format extension.
_UNUSABLE_IN_IDENTIFIER = re.compile(r"[./?#%\\\s]")


def client_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without the fields only the server may set."""
    return {k: v for k, v in document.items() if k not in SERVER_MANAGED_FIELDS}


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ``ValueError`` says why a document cannot be sent."""
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError as exc:
        raise ValueError(f"document is not valid JSON: {exc}") from None
    except TypeError as exc:
        raise ValueError(f"document is not JSON-serialisable: {exc}") from None
    return text.encode("utf-8")


def identifier_problem(identifier: str) -> str | None:
    if not isinstance(identifier, str) or not identifier:
        return "identifier must be a non-empty string"
    if _UNUSABLE_IN_IDENTIFIER.search(identifier):
        return f"identifier {identifier!r} contains a character API v3 cannot address"
    return None


def optional_identifier(document: Mapping[str, Any]) -> str | None:
    value = document.get("identifier")
    return value if isinstance(value, str) and value else None

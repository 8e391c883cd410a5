"""Sign-in names and passwords as vendors' login requests carry them in a JSON body."""

from __future__ import annotations

import json


def json_credentials(body: bytes, name_field: str) -> tuple[str, str]:
    """``(name, password)`` from a JSON object body; ``""`` for what is missing or not text."""
    try:
        value = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(value, dict):
        return "", ""
    name, password = value.get(name_field), value.get("password")
    return (name if isinstance(name, str) else "", password if isinstance(password, str) else "")

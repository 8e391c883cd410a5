"""Reading Share's JSON bodies: shared by the client (answers) and the simulator (requests)."""

from __future__ import annotations

import json
import uuid
from typing import Any


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not JSON or not an object."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None

"""Reading Nightscout's answers, and the errors that tell a target's owner what to do."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from nightstream.schemas.documents import Collection
from nightstream.schemas.errors import TargetFatalError

_MISSING_PERMISSION = re.compile(r"Missing permission (\S+)")
WRITE_PERMISSIONS = tuple(
    f"api:{collection.value}:{op}" for collection in Collection for op in ("create", "update")
)
HOW_TO_GET_ACCESS = (
    "Create one in Nightscout under Admin Tools: add a subject with a role that has create and "
    "update permission on entries, treatments and devicestatus, then configure that subject's "
    "access token here. Changing API_SECRET invalidates every access token."
)
ROLE_HELP = (
    "In Nightscout Admin Tools give the token's subject a role with the permissions "
    + ", ".join(WRITE_PERMISSIONS)
    + " (no built-in role grants entries:create or any update permission)."
)


def json_field(response: httpx.Response, name: str) -> Any:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload.get(name) if isinstance(payload, dict) else None


class Answers:
    """Texts about one target's answers, secrets removed."""

    def __init__(self, target: str, redact: Callable[[str], str]) -> None:
        self._target = target
        self.redact = redact

    def fatal(self, message: str) -> TargetFatalError:
        return TargetFatalError(self._target, self.redact(message))

    def status_text(self, response: httpx.Response) -> str:
        message = self.server_message(response)
        return f"HTTP {response.status_code}" + (f" {message}" if message else "")

    def server_message(self, response: httpx.Response) -> str | None:
        try:
            payload = response.json()
        except ValueError:
            text = " ".join(response.text.split())
            return self.redact(text[:300]) if text else None
        if not isinstance(payload, dict):
            return None
        parts = [str(payload[k]) for k in ("message", "description") if payload.get(k)]
        return self.redact(": ".join(parts)) if parts else None

    def forbidden(self, response: httpx.Response) -> TargetFatalError:
        message = self.server_message(response)
        match = _MISSING_PERMISSION.search(message or "")
        permission = match.group(1) if match else "needed for this write"
        return self.fatal(
            f"the access token lacks permission {permission} (HTTP 403 {message}). {ROLE_HELP}"
        )

    def secret_rejected(self, response: httpx.Response) -> TargetFatalError:
        return self.fatal(
            f"Nightscout rejects the API secret ({self.status_text(response)}). Use the "
            "site's current API_SECRET (at least 12 characters)."
        )

    def endpoint_missing(self, response: httpx.Response, path: str) -> TargetFatalError:
        return self.fatal(
            f"{path} answered {self.status_text(response)}: check that base_url points at the "
            f"Nightscout site itself (cgm-remote-monitor 15 or later for API v3)"
        )

"""Turn configuration validation errors into one plain explanation per problem."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

_EXAMPLES = {
    "bootstrap_servers": 'bootstrap_servers = "127.0.0.1:9092"',
    "topic_prefix": 'topic_prefix = "nightstream"',
    "partitions": "partitions = 6",
    "url": 'url = "https://my-site.example.org"',
    "token": (
        'token = "nightstream-0123456789abcdef" (Admin Tools: a subject with an uploader role)'
    ),
    "api_secret": 'api_secret = "your-12+-char-API_SECRET" (only for api_version = "v1")',
    "api_version": 'api_version = "v3"',
    "id": 'id = "alice-dexcom"',
    "vendor": 'vendor = "dexcomshare" (or "librelinkup")',
    "username": 'username = "name@example.org" (CONNECT_SHARE_ACCOUNT_NAME)',
    "password": 'password = "..." (CONNECT_SHARE_PASSWORD)',
    "region": 'region = "us" (Dexcom: us, ous, jp; LibreLinkUp: auto, eu, us, ...)',
    "timezone": 'timezone = "Europe/Paris"',
    "targets": 'targets = ["home"] (names defined under [targets.<name>])',
    "poll_interval_seconds": "poll_interval_seconds = 300",
    "log_level": 'log_level = "INFO"',
}


def _where(location: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-after", "function-before") or "[" in item:
            continue
        else:
            parts.append(f".{item}" if parts else item)
    return "".join(parts) or "(top level)"


def explain(error: ValidationError) -> list[str]:
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        location = problem["loc"]
        key = _where(location)
        message = str(problem["msg"]).removeprefix("Value error, ")
        field = next((str(p) for p in reversed(location) if isinstance(p, str)), "")
        example = _EXAMPLES.get(field)
        hint = f"; for example: {example}" if example else ""
        lines.append(f"{key}: {message}{hint}")
    return lines

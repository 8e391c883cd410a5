"""Turn configuration validation errors into one plain explanation per problem."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError


class ConfigError(Exception):
    """A problem found before validation: the config file or the environment; the message says
    what is wrong and what to do."""


class KeyedValueError(ValueError):
    """A validator's complaint about one key below the model it validates (``("token",)``,
    ``("links", 2, "targets")``), so the explanation names that key rather than the model."""

    def __init__(
        self, key: tuple[str | int, ...], message: str, example: str | None = None
    ) -> None:
        super().__init__(message)
        self.key = key
        self.example = example
        """Shown instead of the key's usual example (for keys that are names, not settings)."""


_EXAMPLES = {
    "bootstrap_servers": 'bootstrap_servers = "127.0.0.1:9092"',
    "topic_prefix": 'topic_prefix = "nightstream"',
    "partitions": "partitions = 6",
    "url": 'url = "https://my-site.example.org" (CONNECT_NIGHTSCOUT_ENDPOINT)',
    "token": (
        'token = "nightstream-0123456789abcdef" (NIGHTSCOUT_TOKEN; Nightscout Admin Tools: '
        "a subject whose role has api:*:create, api:*:update and api:*:read)"
    ),
    "api_secret": 'api_secret = "your-12+-char-API_SECRET" (only for api_version = "v1")',
    "api_version": 'api_version = "v3"',
    "id": 'id = "alice-dexcom"',
    "vendor": 'vendor = "dexcomshare" (or "librelinkup", "tandem")',
    "username": 'username = "name@example.org" (CONNECT_SHARE_ACCOUNT_NAME)',
    "password": 'password = "..." (CONNECT_SHARE_PASSWORD)',
    "region": 'region = "us" (Dexcom: us, ous, jp; LibreLinkUp: auto, eu, us, ...; Tandem: us, eu)',
    "server_url": (
        'server_url = "http://127.0.0.1:8080/us" (only to use another server than the '
        "vendor's, e.g. a simulator)"
    ),
    "patient_id": 'patient_id = "..." (LibreLinkUp: the followed patient, from check-login)',
    "llu_version": 'llu_version = "4.16.0"',
    "pump_serial": 'pump_serial = "1234567" (Tandem: which pump, from check-login)',
    "client_id": 'client_id = "0oa4wnbvtladeyVZX4h7" (Tandem: the OIDC client id)',
    "backfill_days": "backfill_days = 7",
    "replication_factor": "replication_factor = 3",
    "schema_registry_url": 'schema_registry_url = "http://registry:8081"',
    "max_concurrency": "max_concurrency = 8",
    "timeout_seconds": "timeout_seconds = 30",
    "timezone": 'timezone = "Europe/Paris" (Tandem: the zone the pump clock is set in)',
    "targets": 'targets = ["home"] (names defined under [targets.<name>])',
    "poll_interval_seconds": "poll_interval_seconds = 300",
    "run_time_links": "run_time_links = true",
    "log_level": 'log_level = "INFO" (DEBUG, INFO, WARNING or ERROR; NIGHTSTREAM_LOG_LEVEL)',
    "log_format": 'log_format = "json" (or "text"; NIGHTSTREAM_LOG_FORMAT)',
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


_MESSAGES = {
    "extra_forbidden": "is not a known setting: check its spelling and section",
    "missing": "is required but not set",
}


def explain(error: ValidationError) -> list[str]:
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        location = tuple(problem["loc"])
        cause = problem.get("ctx", {}).get("error")
        if isinstance(cause, KeyedValueError):
            location += cause.key
        key = _where(location)
        message = _MESSAGES.get(problem["type"]) or str(problem["msg"]).removeprefix(
            "Value error, "
        )
        field = next((str(p) for p in reversed(location) if isinstance(p, str)), "")
        example = _EXAMPLES.get(field)
        if isinstance(cause, KeyedValueError) and cause.example is not None:
            example = cause.example
        hint = f"; for example: {example}" if example else ""
        lines.append(f"{key}: {message}{hint}")
    return lines

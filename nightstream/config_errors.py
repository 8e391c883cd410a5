"""Turn configuration validation errors into one plain explanation per problem."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence

from pydantic import ValidationError


class ConfigError(Exception):
    """A problem found before validation: the config file or the environment; the message says
    what is wrong and what to do."""


class SettingsInvalid(ConfigError):
    """Settings that do not validate: one explanation per problem."""

    def __init__(self, problems: list[str]) -> None:
        listed = "\n".join(f"  - {line}" for line in problems)
        super().__init__(f"configuration is not valid:\n{listed}")
        self.problems = problems


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
    "schema_registry_username": 'schema_registry_username = "nightstream"',
    "schema_registry_password": (
        'schema_registry_password = "..." (NIGHTSTREAM_KAFKA__SCHEMA_REGISTRY_PASSWORD)'
    ),
    "schema_registry_ca_file": 'schema_registry_ca_file = "/etc/nightstream/registry-ca.pem"',
    "security_protocol": 'security_protocol = "SASL_SSL" (or PLAINTEXT, SSL, SASL_PLAINTEXT)',
    "ssl_ca_file": 'ssl_ca_file = "/etc/nightstream/kafka-ca.pem"',
    "ssl_cert_file": 'ssl_cert_file = "/etc/nightstream/client.pem"',
    "ssl_key_file": 'ssl_key_file = "/etc/nightstream/client.key"',
    "ssl_key_password": 'ssl_key_password = "..." (only for an encrypted key)',
    "sasl_mechanism": 'sasl_mechanism = "SCRAM-SHA-512" (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)',
    "sasl_username": 'sasl_username = "nightstream"',
    "sasl_password": 'sasl_password = "..." (NIGHTSTREAM_KAFKA__SASL_PASSWORD)',
    "max_concurrency": "max_concurrency = 8",
    "timeout_seconds": "timeout_seconds = 30",
    "timezone": 'timezone = "Europe/Paris" (Tandem: the zone the pump clock is set in)',
    "targets": 'targets = ["home"] (names defined under [targets.<name>])',
    "poll_interval_seconds": "poll_interval_seconds = 300",
    "run_time_links": "run_time_links = true",
    "log_level": 'log_level = "INFO" (DEBUG, INFO, WARNING or ERROR; NIGHTSTREAM_LOG_LEVEL)',
    "log_format": 'log_format = "json" (or "text"; NIGHTSTREAM_LOG_FORMAT)',
}


def key_example(key: str) -> str | None:
    """How ``key`` is written in the config file (``bootstrap_servers = "..."``), maybe with a
    remark in parentheses after it."""
    return _EXAMPLES.get(key)


def _where(location: Sequence[int | str], link_ids: Sequence[str | None]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            link_id = link_ids[item] if parts == ["links"] and item < len(link_ids) else None
            parts.append(f"[{item}]" + (f" ({link_id})" if link_id else ""))
        elif item in ("function-after", "function-before") or "[" in item:
            continue
        else:
            parts.append(f".{item}" if parts else item)
    return "".join(parts) or "(top level)"


def _did_you_mean(key: str, known_keys: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(known_keys), n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


_MESSAGES = {
    "extra_forbidden": "is not a known setting: check its spelling and section",
    "missing": "is required but not set",
    "string_too_short": "is empty",
    "too_short": "is empty",
}


def explain(
    error: ValidationError,
    link_ids: Sequence[str | None] = (),
    known_keys: Collection[str] = (),
) -> list[str]:
    """One line per problem; ``link_ids`` (by position in the links list) name the links, and
    an unknown key gets the closest of ``known_keys``."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        location = tuple(problem["loc"])
        cause = problem.get("ctx", {}).get("error")
        if isinstance(cause, KeyedValueError):
            location += cause.key
        key = _where(location, link_ids)
        message = _MESSAGES.get(problem["type"]) or str(problem["msg"]).removeprefix(
            "Value error, "
        )
        field = next((str(p) for p in reversed(location) if isinstance(p, str)), "")
        if problem["type"] == "extra_forbidden":
            message += _did_you_mean(field, known_keys)
        example = _EXAMPLES.get(field)
        if isinstance(cause, KeyedValueError) and cause.example is not None:
            example = cause.example
        hint = f"; for example: {example}" if example else ""
        lines.append(f"{key}: {message}{hint}")
    return lines

"""nightscout-connect's ``CONNECT_*`` variables: one link (and one site) for an existing setup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nightstream.config_errors import ConfigError

# nightscout-connect's names for the vendors nightstream can poll.
_CONNECT_SOURCES = ("dexcomshare", "linkup")


def connect_compat(env: Mapping[str, str]) -> dict[str, Any]:
    """Translate nightscout-connect's one-link settings into ours."""
    source = env.get("CONNECT_SOURCE", "").strip().lower()
    if not source:
        return {}
    if source not in _CONNECT_SOURCES:
        raise ConfigError(
            f"CONNECT_SOURCE={source!r} is not supported: set it to "
            f"{' or '.join(_CONNECT_SOURCES)}, or unset it and configure links in the TOML file"
        )
    out: dict[str, Any] = {}
    endpoint = env.get("CONNECT_NIGHTSCOUT_ENDPOINT") or env.get("NIGHTSCOUT_URL")
    token = env.get("NIGHTSCOUT_TOKEN") or env.get("CONNECT_NIGHTSCOUT_TOKEN")
    if endpoint:
        out["targets"] = {"default": {"url": endpoint, "token": token}}
    link: dict[str, Any] = {"vendor": source, "targets": ["default"]}
    if source == "dexcomshare":
        link["username"] = env.get("CONNECT_SHARE_ACCOUNT_NAME", "")
        link["password"] = env.get("CONNECT_SHARE_PASSWORD", "")
        region = env.get("CONNECT_SHARE_REGION", "").strip().lower()
        link["region"] = {"": "us", "eu": "ous"}.get(region, region)
        if env.get("CONNECT_SHARE_SERVER"):
            link["server_url"] = env["CONNECT_SHARE_SERVER"]
    elif source == "linkup":
        link["vendor"] = "librelinkup"
        link["username"] = env.get("CONNECT_LINK_UP_USERNAME", "")
        link["password"] = env.get("CONNECT_LINK_UP_PASSWORD", "")
        region = env.get("CONNECT_LINK_UP_REGION", "").strip().lower()
        link["region"] = region or "auto"
        if env.get("CONNECT_LINK_UP_PATIENT_ID"):
            link["patient_id"] = env["CONNECT_LINK_UP_PATIENT_ID"]
        if env.get("CONNECT_LINK_UP_VERSION"):
            link["llu_version"] = env["CONNECT_LINK_UP_VERSION"]
    link["id"] = env.get("NIGHTSTREAM_LINK_ID", f"{link['vendor']}-1")
    out["links"] = [link]
    return out


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_connect_link(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """``data`` (the file's settings) with the link ``CONNECT_*`` describes, if any. A file that
    has links of its own is refused: which of them the variables should replace is a guess."""
    connect = connect_compat(env)
    if connect and data.get("links"):
        raise ConfigError(
            f"CONNECT_SOURCE is set and the config file has {len(data['links'])} [[links]] of its "
            "own: nightscout-connect's variables describe one link and would replace them. Add "
            "that link to the file as a [[links]] entry and unset the CONNECT_* variables, or "
            "use the variables without a config file"
        )
    return _deep_merge(data, connect)

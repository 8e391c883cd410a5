"""nightscout-connect's ``CONNECT_*`` variables: one link (and one site) for an existing setup."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nightstream.config_errors import ConfigError

# nightscout-connect's names for the vendors nightstream can poll.
_CONNECT_SOURCES = ("dexcomshare", "linkup")


_SHARE_HOSTS = {"share2.dexcom.com": "us", "shareous1.dexcom.com": "ous", "share.dexcom.jp": "jp"}
"""Dexcom's hosts, as nightscout-connect's CONNECT_SHARE_SERVER names them, and their region."""
_INTERVAL_MINUTES = (1, 60)
_USERNAME = {"dexcomshare": "CONNECT_SHARE_ACCOUNT_NAME", "linkup": "CONNECT_LINK_UP_USERNAME"}
_PASSWORD = {"dexcomshare": "CONNECT_SHARE_PASSWORD", "linkup": "CONNECT_LINK_UP_PASSWORD"}
_REGION = {"dexcomshare": "CONNECT_SHARE_REGION", "linkup": "CONNECT_LINK_UP_REGION"}
_SERVER = {"dexcomshare": "CONNECT_SHARE_SERVER", "linkup": "CONNECT_LINK_UP_SERVER"}


def _source(env: Mapping[str, str]) -> str:
    return env.get("CONNECT_SOURCE", "").strip().lower()


def _url(host_or_url: str) -> str:
    """nightscout-connect takes host names; a URL is kept as it is (a simulator, a proxy)."""
    value = host_or_url.strip()
    return value if "://" in value else f"https://{value}"


def _target(env: Mapping[str, str]) -> dict[str, Any] | None:
    endpoint = env.get("CONNECT_NIGHTSCOUT_ENDPOINT") or env.get("NIGHTSCOUT_URL")
    if not endpoint:
        return None
    token = env.get("NIGHTSCOUT_TOKEN") or env.get("CONNECT_NIGHTSCOUT_TOKEN")
    secret = env.get("CONNECT_API_SECRET")
    if secret and not token:
        # nightscout-connect writes with the API secret: API v1, with its limits (README).
        return {"url": endpoint, "api_version": "v1", "api_secret": secret}
    return {"url": endpoint, "token": token}


def _dexcom(env: Mapping[str, str], link: dict[str, Any]) -> None:
    region = env.get("CONNECT_SHARE_REGION", "").strip().lower()
    link["region"] = {"": "us", "eu": "ous"}.get(region, region)
    server = env.get("CONNECT_SHARE_SERVER", "").strip()
    if server.lower() in _SHARE_HOSTS:
        link["region"] = _SHARE_HOSTS[server.lower()]
    elif server:
        link["server_url"] = _url(server)


def _interval_seconds(env: Mapping[str, str]) -> float | None:
    value = env.get("CONNECT_LINK_UP_INTERVAL", "").strip()
    if not value:
        return None
    low, high = _INTERVAL_MINUTES
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if not low <= minutes <= high:
        raise ConfigError(
            f"CONNECT_LINK_UP_INTERVAL={value!r} is not a number of minutes from {low} to {high}"
        )
    return minutes * 60


def _linkup(env: Mapping[str, str], link: dict[str, Any]) -> None:
    link["vendor"] = "librelinkup"
    link["region"] = env.get("CONNECT_LINK_UP_REGION", "").strip().lower() or "auto"
    if env.get("CONNECT_LINK_UP_SERVER", "").strip():
        link["server_url"] = _url(env["CONNECT_LINK_UP_SERVER"])
    if env.get("CONNECT_LINK_UP_PATIENT_ID"):
        link["patient_id"] = env["CONNECT_LINK_UP_PATIENT_ID"]
    if env.get("CONNECT_LINK_UP_VERSION"):
        link["llu_version"] = env["CONNECT_LINK_UP_VERSION"]
    interval = _interval_seconds(env)
    if interval is not None:
        link["poll_interval_seconds"] = interval


def connect_compat(env: Mapping[str, str]) -> dict[str, Any]:
    """Translate nightscout-connect's one-link settings into ours."""
    source = _source(env)
    if not source:
        return {}
    if source not in _CONNECT_SOURCES:
        raise ConfigError(
            f"CONNECT_SOURCE={source!r} is not supported: set it to "
            f"{' or '.join(_CONNECT_SOURCES)}, or unset it and configure links in the TOML file"
        )
    out: dict[str, Any] = {}
    target = _target(env)
    if target is not None:
        out["targets"] = {"default": target}
    link: dict[str, Any] = {
        "vendor": source,
        "targets": ["default"],
        "username": env.get(_USERNAME[source], ""),
        "password": env.get(_PASSWORD[source], ""),
    }
    (_dexcom if source == "dexcomshare" else _linkup)(env, link)
    link["id"] = env.get("NIGHTSTREAM_LINK_ID", f"{link['vendor']}-1")
    out["links"] = [link]
    return out


def connect_variables(env: Mapping[str, str]) -> dict[str, str]:
    """Settings keys (as messages name them) and the ``CONNECT_*`` variable that sets each."""
    source = _source(env)
    if source not in _CONNECT_SOURCES:
        return {}
    return {
        "links[0].username": _USERNAME[source],
        "links[0].password": _PASSWORD[source],
        "links[0].region": _REGION[source],
        "links[0].server_url": _SERVER[source],
        "links[0].patient_id": "CONNECT_LINK_UP_PATIENT_ID",
        "links[0].llu_version": "CONNECT_LINK_UP_VERSION",
        "links[0].id": "NIGHTSTREAM_LINK_ID",
        "targets.default.url": "CONNECT_NIGHTSCOUT_ENDPOINT",
        "targets.default.token": "NIGHTSCOUT_TOKEN",
        "targets.default.api_secret": "CONNECT_API_SECRET",
    }


def in_connect_terms(problems: list[str], env: Mapping[str, str]) -> list[str]:
    """``problems`` with the keys the ``CONNECT_*`` variables set named by those variables, for
    a setup made of variables only."""
    names = connect_variables(env)
    spoken = []
    for problem in problems:
        key, colon, rest = problem.partition(": ")
        plain = re.sub(r" \([^)]*\)", "", key)  # links[0] (its-id).password -> links[0].password
        spoken.append(f"{names[plain]} ({plain}){colon}{rest}" if plain in names else problem)
    return spoken


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

"""LibreLinkUp API hosts: one per region, a global entry host, and a raw override.

An account lives in one region. Logging in anywhere else answers a redirect naming the right
region, so the client starts at the global host when the region is ``auto`` and follows it.
New regions appear now and then (EU2, LA, RU, CN): an unknown region key gets the usual
``api-<key>.libreview.io`` host instead of an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

AUTO = "auto"
GLOBAL = "global"
KNOWN_REGIONS = ("us", "eu", "eu2", "de", "fr", "jp", "ap", "au", "ae", "ca", "la", "ru", "cn")
_ALIASES = {"gb": "eu2", "uk": "eu2"}
_HOST_EXCEPTIONS = {
    GLOBAL: "https://api.libreview.io",
    "ru": "https://api.libreview.ru",
    "cn": "https://api-cn.myfreestyle.cn",
}
_REGION_KEY = re.compile(r"[a-z][a-z0-9]{1,7}", re.ASCII)
REGION_PLACEHOLDER = "{region}"


def region_key(name: str) -> str:
    """A region as the API spells it (lower case, aliases resolved); ValueError if malformed."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if not _REGION_KEY.fullmatch(key):
        raise ValueError(f"{name!r} is not a LibreLinkUp region key")
    return key


def start_region(setting: str | None) -> str:
    """Where the first login goes: the configured region, or the global host for ``auto``."""
    if setting is None or setting.strip().lower() in ("", AUTO):
        return GLOBAL
    return region_key(setting)


@dataclass(frozen=True, slots=True)
class LluHosts:
    """Base URLs per region.

    ``template`` is None for Abbott's hosts; otherwise a URL either containing ``{region}``
    (one host per region, as the simulator serves them) or fixed: one host for every region,
    so a redirect to another region cannot be followed.
    """

    template: str | None = None

    def base_url(self, region: str) -> str:
        if self.template is None:
            return _HOST_EXCEPTIONS.get(region, f"https://api-{region}.libreview.io")
        return self.template.replace(REGION_PLACEHOLDER, region).rstrip("/")

    @property
    def follows_redirects(self) -> bool:
        return self.template is None or REGION_PLACEHOLDER in self.template


def llu_hosts(server_url: str | None = None) -> LluHosts:
    """Abbott's hosts, or the link's ``server_url`` override (checked for shape)."""
    if server_url is None:
        return LluHosts()
    parts = urlsplit(server_url.replace(REGION_PLACEHOLDER, "region"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"LibreLinkUp server URL must be http(s)://host[:port][/path], optionally with "
            f"{REGION_PLACEHOLDER}, got {server_url!r}"
        )
    return LluHosts(server_url)

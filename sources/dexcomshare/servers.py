"""Dexcom Share servers: one host and application id per region, or a raw base-URL override."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import urlsplit

Region = Literal["us", "ous", "jp"]
REGIONS: tuple[Region, ...] = get_args(Region)

US_APPLICATION_ID = "d89443d2-327c-4a6f-89e5-496bbb0317db"
JP_APPLICATION_ID = "d8665ade-9673-4e27-9ff6-92db4ce13d13"

SERVICES_PATH = "/ShareWebServices/Services"
AUTHENTICATE = "General/AuthenticatePublisherAccount"
LOGIN_BY_ID = "General/LoginPublisherAccountById"
LOGIN_BY_NAME_RETIRED = "General/LoginPublisherAccountByName"
READ_GLUCOSE = "Publisher/ReadPublisherLatestGlucoseValues"

MAX_MINUTES = 1440
MAX_COUNT = 288

_HOSTS: dict[Region, str] = {
    "us": "https://share2.dexcom.com",
    "ous": "https://shareous1.dexcom.com",
    "jp": "https://share.dexcom.jp",
}
_APPLICATION_IDS: dict[Region, str] = {
    "us": US_APPLICATION_ID,
    "ous": US_APPLICATION_ID,
    "jp": JP_APPLICATION_ID,
}


@dataclass(frozen=True, slots=True)
class ShareServer:
    region: Region
    base_url: str
    application_id: str

    def url(self, endpoint: str) -> str:
        return f"{self.base_url}{SERVICES_PATH}/{endpoint}"


def parse_region(name: str) -> Region:
    lowered = name.strip().lower()
    for region in REGIONS:
        if lowered == region:
            return region
    raise ValueError(f"unknown Dexcom Share region {name!r}: use one of {', '.join(REGIONS)}")


def share_server(region: str, base_url: str | None = None) -> ShareServer:
    """The server of ``region``; ``base_url`` replaces its host but keeps its application id."""
    known = parse_region(region)
    if base_url is None:
        return ShareServer(known, _HOSTS[known], _APPLICATION_IDS[known])
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"Dexcom Share base URL must be http(s)://host[:port][/path], got {base_url!r}"
        )
    return ShareServer(known, base_url.rstrip("/"), _APPLICATION_IDS[known])

"""Tandem Source's hosts, paths and constants per region (US and EU).

The hosts are the reference's (vendors-tandem.md §1.1). ``TandemHosts.under(root)`` puts every
host of a region below one root URL, which is how tests and the demo reach the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

Region = Literal["us", "eu"]
REGIONS: Final[tuple[Region, ...]] = ("us", "eu")

# v3.0.0's US client id (it changed in 2026: keep it configurable per link).
US_CLIENT_ID: Final = "0oa4wnbvtladeyVZX4h7"
EU_CLIENT_ID: Final = "1519e414-eeec-492e-8c5e-97bea4815a10"
SCOPE: Final = "openid profile email"

LOGIN_PATH: Final = "accounts/api/login"
AUTHORIZE_PATH: Final = "accounts/api/connect/authorize"
TOKEN_PATH: Final = "accounts/api/connect/token"  # noqa: S105 (a path)
ISSUER_PATH: Final = "accounts/api"
PUMPER_PATH: Final = "api/reports/bff/pumper/"
PUMP_LOGS_PATH: Final = "api/reports/bff/pump-logs/"
PUMP_LOGS_ENDPOINT: Final = "pump-logs"

# The server caps a pump-log request at about four weeks.
WINDOW_DAYS: Final = 28
# Sent as the reference's client does; the server returns every event type anyway.
EVENT_IDS: Final = (
    "229,5,28,4,26,99,279,3,16,59,21,55,20,280,64,65,66,61,33,371,171,369,460,172,370,461,372,"
    "480,399,256,213,406,477,394,212,404,214,405,486,447,313,60,14,6,90,230,140,12,11,53,13,63,"
    "203,307,191"
)


@dataclass(frozen=True, slots=True)
class TandemHosts:
    """Every URL one region's login and data calls use (each ending without a slash but the
    SSO page and the data host, which Tandem writes with one)."""

    region: Region
    sso_page: str
    accounts: str
    """``https://tdcservices…`` (login API, OIDC authorize and token live under it)."""
    source: str
    client_id: str
    redirect_uri: str

    @property
    def login_url(self) -> str:
        return f"{self.accounts}/{LOGIN_PATH}"

    @property
    def authorize_url(self) -> str:
        return f"{self.accounts}/{AUTHORIZE_PATH}"

    @property
    def token_url(self) -> str:
        return f"{self.accounts}/{TOKEN_PATH}"

    @property
    def issuer(self) -> str:
        return f"{self.accounts}/{ISSUER_PATH}"

    @property
    def origin(self) -> str:
        """What the data host's WAF wants in ``Origin`` (``source`` without its slash)."""
        return self.source.rstrip("/")

    def with_client_id(self, client_id: str | None) -> TandemHosts:
        return self if not client_id else replace(self, client_id=client_id)

    def under(self, root: str) -> TandemHosts:
        """The same region served below ``root`` (``<root>/<region>/sso/`` and so on)."""
        base = f"{root.rstrip('/')}/{self.region}"
        return replace(
            self,
            sso_page=f"{base}/sso/",
            accounts=f"{base}/tdc",
            source=f"{base}/source/",
            redirect_uri=f"{base}/sso/auth/callback",
        )


_REAL: Final[dict[Region, TandemHosts]] = {
    "us": TandemHosts(
        region="us",
        sso_page="https://sso.tandemdiabetes.com/",
        accounts="https://tdcservices.tandemdiabetes.com",
        source="https://source.tandemdiabetes.com/",
        client_id=US_CLIENT_ID,
        redirect_uri="https://sso.tandemdiabetes.com/auth/callback",
    ),
    "eu": TandemHosts(
        region="eu",
        sso_page="https://sso.tandemdiabetes.com/",
        accounts="https://tdcservices.eu.tandemdiabetes.com",
        source="https://source.eu.tandemdiabetes.com/",
        client_id=EU_CLIENT_ID,
        redirect_uri="https://source.eu.tandemdiabetes.com/authorize/callback",
    ),
}


def region_of(name: str | None) -> Region:
    key = (name or "us").strip().lower()
    for region in REGIONS:
        if region == key:
            return region
    raise ValueError(f"{name!r} is not a Tandem region (us or eu)")


def tandem_hosts(
    region: str | None, server_url: str | None = None, client_id: str | None = None
) -> TandemHosts:
    """The hosts of ``region``; below ``server_url`` when one is given (a simulator)."""
    hosts = _REAL[region_of(region)]
    if server_url:
        hosts = hosts.under(server_url)
    return hosts.with_client_id(client_id)

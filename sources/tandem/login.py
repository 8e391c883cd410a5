"""Tandem's login, step by step (vendors-tandem.md §1.2): SSO page, login API, OIDC authorize
with PKCE, token endpoint, id_token claims.

One call of :func:`log_in` is one login: it never tries again by itself. Every refusal is
either fatal (the user must act: LinkFatalError) or says how long to wait (RetriableError with
``retry_after``), because Tandem's firewall bans clients that log in too often.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.sources.secret import Secret
from nightstream.sources.tandem import errors
from nightstream.sources.tandem.exchange import TandemReply, raise_for_transport, send
from nightstream.sources.tandem.pkce import Pkce
from nightstream.sources.tandem.protocol import SCOPE, TandemHosts
from nightstream.sources.tandem.tokens import Tokens, check_claims, jwt_claims

# A login refused for a reason nobody recognises is not tried again sooner than this: it may be
# the start of a lockout or a ban.
UNKNOWN_REFUSAL_PAUSE_S = 15 * 60.0
MAX_AUTHORIZE_HOPS = 5
MFA_STATUSES = frozenset({"MFA_REQUIRED", "MFA_CHALLENGE", "OTP_REQUIRED", "TWO_FACTOR_REQUIRED"})
CONSENT_ERRORS = frozenset(
    {"consent_required", "interaction_required", "account_selection_required"}
)


@dataclass
class LoginRequest:
    link_id: str
    hosts: TandemHosts
    email: Secret
    password: Secret
    headers: Mapping[str, str]
    timeout: httpx.Timeout
    cookies: dict[str, str] = field(default_factory=dict)
    """The login's own cookie jar: it never mixes with another link's, whatever the pool."""

    def with_cookies(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {**self.headers, **(extra or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def keep(self, reply: TandemReply) -> TandemReply:
        self.cookies.update(reply.cookies)
        return reply


async def log_in(http: httpx.AsyncClient, request: LoginRequest, now_ms: int) -> Tokens:
    hosts = request.hosts
    await _sso_page(http, request)
    await _login_api(http, request)
    pkce = Pkce.new()
    code = await _authorize(http, request, pkce)
    reply = await send(
        http,
        "POST",
        hosts.token_url,
        call="the login's token request",
        headers=request.with_cookies(),
        timeouts=request.timeout,
        form={
            "grant_type": "authorization_code",
            "client_id": hosts.client_id,
            "code": code.reveal(),
            "redirect_uri": hosts.redirect_uri,
            "code_verifier": pkce.verifier,
        },
    )
    raise_for_transport(reply, "the login's token request")
    return _tokens(request, reply, now_ms)


async def _sso_page(http: httpx.AsyncClient, request: LoginRequest) -> None:
    call = "the SSO page"
    reply = request.keep(
        await send(
            http,
            "GET",
            request.hosts.sso_page,
            call=call,
            headers=request.with_cookies(),
            timeouts=request.timeout,
        )
    )
    raise_for_transport(reply, call)
    if not 200 <= reply.status <= 399:
        raise RetriableError(f"Tandem answered {call} with HTTP {reply.status}")


async def _login_api(http: httpx.AsyncClient, request: LoginRequest) -> None:
    call = "the login"
    hosts = request.hosts
    reply = request.keep(
        await send(
            http,
            "POST",
            hosts.login_url,
            call=call,
            headers=request.with_cookies({"Referer": hosts.sso_page}),
            timeouts=request.timeout,
            json_body={"username": request.email.reveal(), "password": request.password.reveal()},
        )
    )
    if reply.status in (400, 401):
        raise LinkFatalError(request.link_id, errors.bad_credentials(request.link_id, hosts.region))
    raise_for_transport(reply, call)
    status = reply.member("status")
    if reply.status == 200 and status == "SUCCESS":
        return
    if isinstance(status, str) and status.upper() in MFA_STATUSES:
        raise LinkFatalError(request.link_id, errors.mfa_required(request.link_id, hosts.region))
    raise RetriableError(
        f"Tandem refused the login (HTTP {reply.status}, status {_word(status)})",
        retry_after=UNKNOWN_REFUSAL_PAUSE_S,
    )


async def _authorize(http: httpx.AsyncClient, request: LoginRequest, pkce: Pkce) -> Secret:
    """Follow the authorize redirects until one leads to the redirect URI; its ``code``."""
    call = "the login's authorize step"
    hosts = request.hosts
    url = hosts.authorize_url
    params: dict[str, str] | None = {
        "client_id": hosts.client_id,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": hosts.redirect_uri,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
    }
    for _ in range(MAX_AUTHORIZE_HOPS):
        reply = request.keep(
            await send(
                http,
                "GET",
                url,
                call=call,
                headers=request.with_cookies(),
                timeouts=request.timeout,
                params=params,
            )
        )
        raise_for_transport(reply, call)
        if reply.status == 400 and reply.member("error") == "invalid_client":
            raise LinkFatalError(
                request.link_id, errors.client_id_refused(request.link_id, hosts.client_id)
            )
        if reply.location is None or not 300 <= reply.status <= 399:
            break
        url, params = urljoin(url, reply.location), None
        if url.split("?", 1)[0] == hosts.redirect_uri:
            return _code(request, url)
    raise RetriableError(
        f"Tandem's authorize step ended without a code (HTTP {reply.status})",
        retry_after=UNKNOWN_REFUSAL_PAUSE_S,
    )


def _code(request: LoginRequest, url: str) -> Secret:
    query = parse_qs(urlsplit(url).query)
    code = query.get("code", [""])[0]
    if code:
        return Secret(code)
    error = query.get("error", [""])[0]
    if error in CONSENT_ERRORS:
        raise LinkFatalError(
            request.link_id, errors.consent_required(request.link_id, request.hosts.region, error)
        )
    raise RetriableError(
        f"Tandem's authorize step gave no code (error {_word(error)})",
        retry_after=UNKNOWN_REFUSAL_PAUSE_S,
    )


def _tokens(request: LoginRequest, reply: TandemReply, now_ms: int) -> Tokens:
    access, id_token = reply.member("access_token"), reply.member("id_token")
    if reply.status != 200 or not isinstance(access, str) or not isinstance(id_token, str):
        raise RetriableError(
            f"Tandem's token endpoint answered HTTP {reply.status} without tokens",
            retry_after=UNKNOWN_REFUSAL_PAUSE_S,
        )
    claims = jwt_claims(id_token)
    check_claims(claims, issuer=request.hosts.issuer, now_ms=now_ms)
    pumper = claims.get("pumperId")
    if not isinstance(pumper, str) or not pumper:
        raise LinkFatalError(request.link_id, errors.no_pumper(request.link_id))
    lifetime = reply.member("expires_in")
    seconds = lifetime if isinstance(lifetime, int) and not isinstance(lifetime, bool) else 1800
    return Tokens(Secret(access), now_ms + max(seconds, 60) * 1000, Secret(pumper), now_ms)


def _word(value: object) -> str:
    """A vendor code word for a message: short and printable, never free text."""
    if not isinstance(value, str):
        return "none"
    kept = "".join(c for c in value if c.isalnum() or c in "_-./")
    return kept[:40] or "none"

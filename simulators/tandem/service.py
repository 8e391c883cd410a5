"""The simulated Tandem Source behind the HTTP layer: SSO, login API, OIDC, pumper, pump logs.

An account lives in one region; the other region's login API answers 401
``account/invalid_credentials`` for it, as the real one does. Logins count towards a firewall
ban (HTML 403 for every call of that account until it ends); data calls without the source
site's ``Origin`` get the same page, and more than ``data_requests_per_minute`` get 429.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode

from nightstream.simulators.kit.account_book import AccountBook
from nightstream.simulators.kit.credentials import json_credentials
from nightstream.simulators.kit.glucose import MINUTE_MS
from nightstream.simulators.kit.lockout import LoginLockout
from nightstream.simulators.kit.replies import Reply, compact_json, html_reply, json_reply
from nightstream.simulators.tandem.accounts import TandemAccount
from nightstream.simulators.tandem.events import PumpLog
from nightstream.simulators.tandem.options import SimOptions
from nightstream.sources.simclock import Clock
from nightstream.sources.tandem.pkce import challenge_for
from nightstream.sources.tandem.protocol import TandemHosts

SSO_COOKIE = "tdc_sso"
AUTH_COOKIE = "tdc_auth"
CODE_TTL_MS = 5 * MINUTE_MS
MALFORMED_EVENT = {
    "deviceAssignmentId": "00000000-0000-0000-0000-000000000000",
    "eventCode": 399,
    "sequenceGroup": 1,
    "sequenceNumber": 1,
    "pumpDateTime": "not a time",
    "eventProperties": {"currentGlucoseDisplayValue": "high"},
}


@dataclass(frozen=True, slots=True)
class Grant:
    account_key: str
    region: str
    expires_ms: int
    challenge: str = ""


class TandemService(AccountBook[TandemAccount]):
    def __init__(
        self,
        accounts: Iterable[TandemAccount],
        *,
        clock: Clock,
        hosts: Callable[[str], TandemHosts],
        options: SimOptions | None = None,
    ) -> None:
        self.clock = clock
        self.options = options or SimOptions()
        self._hosts = hosts
        self.waf = LoginLockout(self.options.login_ban)
        self.malformed_answers = 0
        self.malformed_pump: str | None = None
        self.issued: list[str] = []
        """Every session cookie, code and token handed out (for secret scans)."""
        super().__init__()
        self._logs: dict[str, PumpLog] = {}
        self._sso: set[str] = set()
        self._sessions: dict[str, str] = {}
        self._codes: dict[str, Grant] = {}
        self._tokens: dict[str, Grant] = {}
        self._recent: dict[str, deque[int]] = {}
        self._counters: dict[str, Counter[str]] = {}
        self.add_accounts(accounts)

    # accounts, counters, knobs

    def set_account(self, email: str, **changes: Any) -> None:
        account = self.account(email)
        self._accounts[account.key] = replace(account, **changes)
        self._logs.clear()

    def log(self, assignment_id: str) -> PumpLog:
        found = self._logs.get(assignment_id)
        if found is None:
            pump = next(
                p
                for a in self._accounts.values()
                for p in a.pumps
                if p.assignment_id == assignment_id
            )
            found = self._logs[assignment_id] = PumpLog(pump, self.options.seed)
        return found

    def counters(self, email: str) -> Counter[str]:
        return self._counters.setdefault(email.casefold(), Counter())

    def all_counters(self) -> dict[str, dict[str, int]]:
        return {key: dict(counts) for key, counts in self._counters.items()}

    def expire_tokens(self) -> None:
        self._tokens.clear()

    def ban(self, email: str) -> None:
        self.waf.lock(email.casefold(), self.clock.now_ms())

    def reset(self) -> None:
        self._counters.clear()
        self.waf.clear()
        self._recent.clear()
        self.malformed_answers = 0

    # login

    def sso_page(self) -> Reply:
        cookie = secrets.token_urlsafe(16)
        self._sso.add(cookie)
        return Reply(
            200,
            b"<html><body>Tandem SSO</body></html>",
            "text/html; charset=utf-8",
            {"Set-Cookie": f"{SSO_COOKIE}={cookie}; Path=/; HttpOnly"},
        )

    def login(self, region: str, headers: Mapping[str, str], body: bytes) -> Reply:
        now_ms = self.clock.now_ms()
        email, password = json_credentials(body, "username")
        key = email.casefold()
        counters = self.counters(email)
        counters["logins"] += 1
        if self.waf.locked(key, now_ms):
            counters["waf_blocks"] += 1
            return html_reply(403)
        self.waf.failed(key, now_ms)  # every login counts towards the firewall's ban
        if _cookie(headers, SSO_COOKIE) not in self._sso:
            return json_reply({"status": "FAILURE", "message": "session/missing"}, 400)
        account = self._accounts.get(key)
        if account is None or account.region != region or account.password != password:
            counters["failed_logins"] += 1
            return json_reply({"status": "FAILURE", "message": "account/invalid_credentials"}, 401)
        if account.mfa:
            counters["mfa_answers"] += 1
            return json_reply({"redirectUrl": "/mfa", "status": "MFA_REQUIRED"})
        session = secrets.token_urlsafe(24)
        self._sessions[session] = key
        self.issued.append(session)
        return Reply(
            200,
            compact_json({"redirectUrl": "/", "status": "SUCCESS"}),
            headers={"Set-Cookie": f"{AUTH_COOKIE}={session}; Path=/; HttpOnly"},
        )

    def authorize(self, region: str, query: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        hosts = self._hosts(region)
        if query.get("client_id") != hosts.client_id:
            return json_reply({"error": "invalid_client"}, 400)
        if query.get("redirect_uri") != hosts.redirect_uri or query.get("response_type") != "code":
            return json_reply({"error": "invalid_request"}, 400)
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return json_reply({"error": "invalid_request"}, 400)
        key = self._sessions.get(_cookie(headers, AUTH_COOKIE) or "")
        account = self._accounts.get(key or "")
        if account is None:
            return _redirect(hosts.redirect_uri, {"error": "login_required"})
        if account.consent:
            self.counters(account.email)["consent_answers"] += 1
            return _redirect(hosts.redirect_uri, {"error": "consent_required"})
        code = secrets.token_urlsafe(24)
        grant = Grant(
            account.key, region, self.clock.now_ms() + CODE_TTL_MS, query["code_challenge"]
        )
        self._codes[code] = grant
        self.issued.append(code)
        # One hop inside the accounts host first, as an identity server's callback does.
        return _redirect(
            f"{hosts.accounts}/accounts/api/connect/authorize/callback", {"code": code}
        )

    def authorize_callback(self, region: str, query: Mapping[str, str]) -> Reply:
        return _redirect(self._hosts(region).redirect_uri, {"code": query.get("code", "")})

    def token(self, region: str, body: bytes) -> Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        hosts = self._hosts(region)
        grant = self._codes.pop(form.get("code", ""), None)
        now_ms = self.clock.now_ms()
        if (
            grant is None
            or grant.region != region
            or grant.expires_ms < now_ms
            or form.get("grant_type") != "authorization_code"
            or form.get("client_id") != hosts.client_id
            or form.get("redirect_uri") != hosts.redirect_uri
            or challenge_for(form.get("code_verifier", "")) != grant.challenge
        ):
            return json_reply({"error": "invalid_grant"}, 400)
        account = self._accounts[grant.account_key]
        ttl_s = self.options.token_ttl_s
        access = secrets.token_urlsafe(32)
        self._tokens[access] = Grant(account.key, region, now_ms + ttl_s * 1000)
        self.counters(account.email)["tokens_issued"] += 1
        claims = {
            "iss": hosts.issuer,
            "aud": hosts.client_id,
            "exp": now_ms // 1000 + ttl_s,
            "iat": now_ms // 1000,
            "pumperId": account.pumper_id,
            "accountId": account.account_id,
            "email": account.email,
        }
        id_token = _jwt(claims)
        self.issued += [access, id_token]
        return json_reply(
            {
                "access_token": access,
                "id_token": id_token,
                "expires_in": ttl_s,
                "token_type": "Bearer",
                "scope": "openid profile email",
            }
        )

    # data

    def pumper(self, region: str, pumper_id: str, headers: Mapping[str, str]) -> Reply:
        allowed = self._data_call(region, headers, "pumper_calls")
        if isinstance(allowed, Reply):
            return allowed
        if pumper_id != allowed.pumper_id:
            return json_reply({"message": "Forbidden"}, 403)
        now_ms = self.clock.now_ms()
        pumps = []
        for pump in allowed.pumps:
            newest = self.log(pump.assignment_id).newest_wall(now_ms)
            shown = None if newest is None else newest.isoformat(timespec="seconds")
            pumps.append(
                {
                    "assignmentId": pump.assignment_id,
                    "serialNumber": pump.serial,
                    "modelNumber": "1008200" if "X2" in pump.model else "1009300",
                    "modelName": pump.model,
                    "softwareVersion": "7.8.1",
                    "algorithm": "Control-IQ",
                    "glucoseUnit": "mg/dL",
                    "maxDateOfEvents": shown,
                    "lastUploadClientType": "mobile_tconnect" if shown else None,
                    "settings": None,
                }
            )
        return json_reply(
            {
                "firstName": allowed.first_name,
                "lastName": "Example",
                "name": f"{allowed.first_name} Example",
                "lowGlucoseThreshold": 70,
                "highGlucoseThreshold": 180,
                "country": region.upper(),
                "pumps": pumps,
            }
        )

    def pump_logs(
        self, region: str, assignment_id: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        allowed = self._data_call(region, headers, "pump_log_calls")
        if isinstance(allowed, Reply):
            return allowed
        pump = allowed.pump(assignment_id)
        if pump is None or query.get("pumperId") != allowed.pumper_id:
            return json_reply({"message": "Forbidden"}, 403)
        start, end = _day(query.get("startDate")), _day(query.get("endDate"))
        if (
            start is None
            or end is None
            or not 0 <= (end - start).days < self.options.max_window_days
        ):
            return json_reply({"message": "Check input parameters"}, 400)
        log = self.log(assignment_id)
        events = log.events(start, end, self.clock.now_ms())
        wanted = self.malformed_pump in (None, assignment_id)
        if self.malformed_answers > 0 and events and wanted:
            self.malformed_answers -= 1
            events.insert(len(events) // 2, dict(MALFORMED_EVENT))
        return json_reply({"events": events, "clockChanges": log.clock_changes()})

    def _data_call(
        self, region: str, headers: Mapping[str, str], counter: str
    ) -> TandemAccount | Reply:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        grant = self._tokens.get(token)
        now_ms = self.clock.now_ms()
        if (
            scheme != "Bearer"
            or grant is None
            or grant.region != region
            or grant.expires_ms <= now_ms
        ):
            return json_reply({"message": "Unauthorized"}, 401)
        account = self._accounts[grant.account_key]
        counters = self.counters(account.email)
        if headers.get("Origin") != self._hosts(region).origin or self.waf.locked(
            account.key, now_ms
        ):
            counters["waf_blocks"] += 1
            return html_reply(403)
        recent = self._recent.setdefault(account.key, deque())
        while recent and recent[0] <= now_ms - MINUTE_MS:
            recent.popleft()
        if len(recent) >= self.options.data_requests_per_minute:
            counters["throttled"] += 1
            reply = json_reply({"message": "Too Many Requests"}, 429)
            return replace(reply, headers={"Retry-After": "60"})
        recent.append(now_ms)
        counters[counter] += 1
        return account


def _cookie(headers: Mapping[str, str], name: str) -> str | None:
    for part in headers.get("Cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _redirect(url: str, query: Mapping[str, str]) -> Reply:
    return Reply(302, b"", "text/html", {"Location": f"{url}?{urlencode(query)}"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any]) -> str:
    header = _b64(compact_json({"alg": "RS256", "typ": "JWT", "kid": "simulator"}))
    return f"{header}.{_b64(compact_json(claims))}.{_b64(b'simulated-signature')}"


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        return None

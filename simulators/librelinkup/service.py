"""The simulated LibreLinkUp service behind the HTTP layer: logins, tickets, lockouts, graphs.

An account lives in one region. Logging in on any other region's host (or the global one)
answers a redirect to its region, except in China, a separate world whose host answers bad
credentials for foreign accounts and whose accounts are unknown elsewhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace

from nightstream.simulators.kit.account_book import AccountBook
from nightstream.simulators.kit.credentials import json_credentials
from nightstream.simulators.kit.glucose import HOUR_MS
from nightstream.simulators.kit.lockout import LoginLockout
from nightstream.simulators.kit.quota import RequestQuota
from nightstream.simulators.kit.replies import Reply, html_reply
from nightstream.simulators.librelinkup import envelopes
from nightstream.simulators.librelinkup.accounts import LluAccount, SimPatient, StepType
from nightstream.simulators.librelinkup.counters import LluCounters
from nightstream.simulators.librelinkup.feed import PatientFeed
from nightstream.simulators.librelinkup.formats import connection_object, graph_data
from nightstream.simulators.librelinkup.options import SimOptions
from nightstream.simulators.librelinkup.tickets import Ticket, TicketStore
from nightstream.sources.librelinkup.protocol import (
    ACCOUNT_ID_HEADER,
    MISSING_CACHED_USER,
    PRODUCT_HEADER,
    VERSION_HEADER,
    account_id_header,
    version_tuple,
)
from nightstream.sources.simclock import Clock

STEP_TICKET_MS = HOUR_MS
SEPARATE_REGIONS = frozenset({"cn"})
MALFORMED_POINT = {"FactoryTimestamp": "not a time", "Timestamp": "", "ValueInMgPerDl": "high"}


class LluService(AccountBook[LluAccount]):
    def __init__(
        self, accounts: Iterable[LluAccount], *, clock: Clock, options: SimOptions | None = None
    ) -> None:
        self.clock = clock
        self.options = options or SimOptions()
        self.minimum_version = self.options.minimum_version
        self.tickets = TicketStore()
        self.throttle = LoginLockout(self.options.lockout)
        quota = self.options.call_quota
        self.call_quota = None if quota is None else RequestQuota(quota)
        self.malformed_graphs = 0
        super().__init__()
        self._feeds: dict[str, PatientFeed] = {}
        self._counters: dict[str, LluCounters] = {}
        self._login_hosts: dict[str, Counter[str]] = {}
        self.add_accounts(accounts)

    # accounts and counters

    def feed(self, patient: SimPatient) -> PatientFeed:
        feed = self._feeds.get(patient.patient_id)
        if feed is None:
            feed = PatientFeed.for_patient(self.options.seed, patient)
            self._feeds[patient.patient_id] = feed
        return feed

    def counters(self, email: str) -> LluCounters:
        return self._counters.setdefault(email.casefold(), LluCounters())

    def all_counters(self) -> dict[str, LluCounters]:
        return dict(self._counters)

    def logins_by_host(self, email: str) -> Counter[str]:
        """Logins naming ``email`` per host they were sent to (a region key, or ``global``)."""
        return Counter(self._login_hosts.get(email.casefold(), {}))

    def all_logins_by_host(self) -> dict[str, dict[str, int]]:
        return {key: dict(hosts) for key, hosts in self._login_hosts.items()}

    # knobs

    def set_step(self, email: str, step: StepType | None) -> None:
        account = self.account(email)
        self._accounts[account.key] = replace(account, step=step)

    def lock(self, email: str) -> None:
        self.throttle.lock(email.casefold(), self.clock.now_ms())

    def reset(self) -> None:
        self._counters.clear()
        self._login_hosts.clear()
        self.throttle.clear()
        if self.call_quota is not None:
            self.call_quota.clear()
        self.malformed_graphs = 0

    # the service

    def login(self, region: str, headers: Mapping[str, str], body: bytes) -> Reply:
        now_ms = self.clock.now_ms()
        email, password = json_credentials(body, "email")
        counters = self.counters(email)
        counters.saw("logins")
        self._login_hosts.setdefault(email.casefold(), Counter())[region] += 1
        if not self._version_ok(headers):
            counters.saw("version_refusals")
            return envelopes.version_refused(self.minimum_version)
        key = email.casefold()
        if self.throttle.locked(key, now_ms):
            counters.saw("locked_answers")
            return envelopes.locked(self.throttle.policy)
        account = self._accounts.get(key)
        if account is not None and _redirects(region, account.region):
            counters.saw("redirects")
            return envelopes.redirect(account.region)
        if account is None or account.region != region or password != account.password:
            counters.saw("failed_logins")
            self.throttle.failed(key, now_ms)
            return envelopes.bad_credentials()
        self.throttle.succeeded(key)
        if account.step is not None:
            counters.saw("step_answers")
            ticket = self.tickets.issue(key, region, now_ms + STEP_TICKET_MS, full=False)
            return envelopes.step_required(account, account.step, ticket, now_ms)
        counters.saw("tickets_issued")
        ticket = self.tickets.issue(key, region, now_ms + self.options.ticket_ttl_ms)
        return envelopes.logged_in(account, ticket, now_ms)

    def connections(self, region: str, headers: Mapping[str, str]) -> Reply:
        authorized = self._authorize(region, headers)
        if isinstance(authorized, Reply):
            return authorized
        account, ticket = authorized
        self.counters(account.email).saw("connections_calls")
        now_ms = self.clock.now_ms()
        data = [
            connection_object(account, patient, self.feed(patient), now_ms)
            for patient in account.patients
        ]
        return envelopes.data_answer(data, ticket, now_ms)

    def graph(self, region: str, headers: Mapping[str, str], patient_id: str) -> Reply:
        authorized = self._authorize(region, headers)
        if isinstance(authorized, Reply):
            return authorized
        account, ticket = authorized
        self.counters(account.email).saw("graph_calls")
        patient = account.patient(patient_id)
        if patient is None:
            if patient_id == account.user_id:
                return envelopes.patient_not_found(MISSING_CACHED_USER)
            return envelopes.patient_not_found()
        now_ms = self.clock.now_ms()
        step_ms = self.options.history_step_ms
        data = graph_data(account, patient, self.feed(patient), now_ms, step_ms)
        if self.malformed_graphs > 0:
            self.malformed_graphs -= 1
            points = data["graphData"]
            assert isinstance(points, list)
            points.insert(len(points) // 2, dict(MALFORMED_POINT))
        return envelopes.data_answer(data, ticket, now_ms)

    def _authorize(
        self, region: str, headers: Mapping[str, str]
    ) -> tuple[LluAccount, Ticket] | Reply:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        now_ms = self.clock.now_ms()
        ticket = self.tickets.valid(token, region, now_ms)
        account = None if ticket is None else self._accounts.get(ticket.account_key)
        if not self._version_ok(headers):
            if account is not None:
                self.counters(account.email).saw("version_refusals")
            return envelopes.version_refused(self.minimum_version)
        sent_account_id = headers.get(ACCOUNT_ID_HEADER)
        if sent_account_id is None:
            return envelopes.header_missing()
        if scheme != "Bearer" or ticket is None or account is None:
            return envelopes.unauthorized()
        if sent_account_id.lower() != account_id_header(account.user_id):
            return envelopes.unauthorized()
        wait_ms = None if self.call_quota is None else self.call_quota.admit(account.key, now_ms)
        if wait_ms is not None:
            self.counters(account.email).saw("throttled_calls")
            reply = html_reply(429)
            return replace(reply, headers={"Retry-After": str(-(-wait_ms // 1000))})
        return account, ticket

    def _version_ok(self, headers: Mapping[str, str]) -> bool:
        sent = version_tuple(headers.get(VERSION_HEADER, ""))
        minimum = version_tuple(self.minimum_version)
        if PRODUCT_HEADER not in headers or sent is None or minimum is None:
            return False
        return sent >= minimum


def _redirects(host_region: str, account_region: str) -> bool:
    if host_region == account_region:
        return False
    return host_region not in SEPARATE_REGIONS and account_region not in SEPARATE_REGIONS

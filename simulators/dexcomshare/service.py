"""The simulated Share service behind the HTTP layer: logins, sessions, lockouts, readings.

Regions are separate worlds, as at Dexcom: an account exists in one region only, and elsewhere
its login fails with the same AccountPasswordInvalid as a wrong password.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nightstream.simulators.dexcomshare.accounts import SimAccount
from nightstream.simulators.dexcomshare.counters import AccountCounters, ReadRequest, ServedAnswer
from nightstream.simulators.dexcomshare.formats import (
    MalformedKind,
    malformed_object,
    reading_object,
)
from nightstream.simulators.dexcomshare.replies import empty_reply, fault_reply
from nightstream.simulators.dexcomshare.revisions import Revision, Revisions
from nightstream.simulators.dexcomshare.sessions import SessionState, SessionStore
from nightstream.simulators.kit.glucose import DAY_MS, MINUTE_MS, GlucoseTrace, Reading
from nightstream.simulators.kit.lockout import LockoutPolicy, LoginLockout
from nightstream.simulators.kit.replies import Reply, compact_json, json_reply
from nightstream.sources.dexcomshare import faults
from nightstream.sources.dexcomshare.servers import (
    AUTHENTICATE,
    JP_APPLICATION_ID,
    LOGIN_BY_ID,
    LOGIN_BY_NAME_RETIRED,
    READ_GLUCOSE,
    US_APPLICATION_ID,
    Region,
)
from nightstream.sources.dexcomshare.wire import is_uuid, json_object
from nightstream.sources.simclock import Clock

APPLICATION_IDS: dict[Region, str] = {
    "us": US_APPLICATION_ID,
    "ous": US_APPLICATION_ID,
    "jp": JP_APPLICATION_ID,
}
# Consecutive failed logins; a success starts the count over.
DEXCOM_LOCKOUT = LockoutPolicy(failures=5, lockout_ms=10 * MINUTE_MS)
LAST_BODIES_KEPT = 256
ANSWERS_KEPT = 100_000


@dataclass(slots=True)
class _PendingMalformed:
    account_key: str | None
    kind: MalformedKind
    remaining: int


class ShareService:
    def __init__(
        self,
        accounts: Iterable[SimAccount],
        *,
        clock: Clock,
        seed: int = 0,
        session_ttl_ms: int = DAY_MS,
        history_ms: int = DAY_MS,
        lockout: LockoutPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.history_ms = history_ms
        self.sessions = SessionStore(session_ttl_ms)
        self.read_log: deque[ReadRequest] = deque(maxlen=10_000)
        # The latest answers only: 10,000 accounts' first 24 h answers would hold 350 MB.
        self.last_read_body: OrderedDict[str, bytes] = OrderedDict()
        self.answers: deque[ServedAnswer] = deque(maxlen=ANSWERS_KEPT)
        """Reads answered with readings, oldest first (bodies are not kept: their hashes are)."""
        self._revisions = Revisions()
        self._guard = LoginLockout(lockout or DEXCOM_LOCKOUT)
        self._accounts: dict[str, SimAccount] = {}
        self._by_account_id: dict[tuple[str, str], SimAccount] = {}
        self._traces: dict[str, GlucoseTrace] = {}
        self._counters: dict[str, AccountCounters] = {}
        self._malformed: list[_PendingMalformed] = []
        self._rejected_reads: deque[str] = deque()
        self._inflated: dict[str, deque[int]] = {}
        for account in accounts:
            self.add_account(account)

    # accounts and counters

    @property
    def accounts(self) -> tuple[SimAccount, ...]:
        return tuple(self._accounts.values())

    def add_account(self, account: SimAccount) -> None:
        if account.key in self._accounts:
            raise ValueError(f"account {account.username!r} exists already")
        self._accounts[account.key] = account
        self._by_account_id[account.region, account.account_id.lower()] = account
        self._traces[account.key] = GlucoseTrace.from_seed(
            self.seed, f"{account.region}:{account.key}", gap_probability=account.gap_probability
        )

    def account(self, username: str) -> SimAccount:
        return self._accounts[username.casefold()]

    def trace(self, username: str) -> GlucoseTrace:
        return self._traces[username.casefold()]

    def counters(self, username: str) -> AccountCounters:
        return self._counters.setdefault(username.casefold(), AccountCounters())

    def all_counters(self) -> dict[str, AccountCounters]:
        return dict(self._counters)

    # knobs

    def end_sessions(self, *, forget: bool = False) -> None:
        if forget:
            self.sessions.forget_all()
        else:
            self.sessions.end_all()

    def reject_next_reads(self, count: int, code: str) -> None:
        self._rejected_reads.extend([code] * count)

    def inject_malformed(self, username: str | None, kind: MalformedKind, count: int) -> None:
        key = None if username is None else username.casefold()
        self._malformed.append(_PendingMalformed(key, kind, count))

    def inflate_next_reads(self, username: str, size_bytes: int, count: int = 1) -> None:
        """The next ``count`` reads of ``username`` answer at least ``size_bytes`` of JSON: its
        readings repeated (a vendor answer far larger than any real Share answer)."""
        self._inflated.setdefault(username.casefold(), deque()).extend([size_bytes] * count)

    def revise_reading(self, username: str, time_ms: int, mgdl: int) -> Reading:
        """From now on, answers carry ``mgdl`` for the reading at ``time_ms`` (a vendor
        correcting data it served before); the reading as revised."""
        key = username.casefold()
        return self._revisions.revise(key, self._traces[key], time_ms, mgdl, self.clock.now_ms())

    def revisions(self, username: str) -> Mapping[int, Revision]:
        """Reading time -> its latest revision, for ``username``."""
        return self._revisions.of(username.casefold())

    def lock(self, username: str) -> None:
        account = self.account(username)
        self._guard.lock(_guard_key(account.region, account.key), self.clock.now_ms())

    def reset(self) -> None:
        self._counters.clear()
        self._malformed.clear()
        self._rejected_reads.clear()
        self._inflated.clear()
        self._guard.clear()
        self.read_log.clear()
        self.last_read_body.clear()
        self.answers.clear()
        self._revisions.clear()

    # the service

    def handle(
        self, region: Region, endpoint: str, query: Mapping[str, str], body: bytes
    ) -> Reply | None:
        """The reply to one call, or None when Share has no such endpoint."""
        if endpoint == AUTHENTICATE:
            return self._authenticate(region, body)
        if endpoint == LOGIN_BY_ID:
            return self._login_by_id(region, body)
        if endpoint == READ_GLUCOSE:
            return self._read(region, query)
        if endpoint == LOGIN_BY_NAME_RETIRED:
            return json_reply(faults.ZERO_UUID)
        return None

    def _authenticate(self, region: Region, body: bytes) -> Reply:
        fields = _login_fields(body, "accountName")
        if fields is None:
            return self._fault(faults.INVALID_ARGUMENT, "accountName, password and applicationId")
        name, password, application_id = fields
        counters = self.counters(name)
        counters.authenticate_calls += 1
        if application_id != APPLICATION_IDS[region]:
            return self._fault(faults.INVALID_ARGUMENT, "Application id is not recognised")
        account = self._accounts.get(name.casefold())
        if account is not None and account.region != region:
            account = None
        guard_key = _guard_key(region, name.casefold())
        rejection = self._check_password(guard_key, account, password, counters)
        if rejection is not None:
            return rejection
        assert account is not None
        return json_reply(account.account_id)

    def _login_by_id(self, region: Region, body: bytes) -> Reply:
        fields = _login_fields(body, "accountId")
        if fields is None or not is_uuid(fields[0]):
            return self._fault(faults.INVALID_ARGUMENT, "accountId, password and applicationId")
        account_id, password, application_id = fields
        account = self._by_account_id.get((region, account_id.lower()))
        counters = self.counters(account.key if account else f"account-id:{account_id.lower()}")
        counters.login_by_id_calls += 1
        if application_id != APPLICATION_IDS[region]:
            return self._fault(faults.INVALID_ARGUMENT, "Application id is not recognised")
        if account is None:
            counters.failed_logins += 1
            return self._fault(faults.SSO_INTERNAL_ERROR, "Cannot Authenticate by AccountId")
        rejection = self._check_password(
            _guard_key(region, account.key), account, password, counters
        )
        if rejection is not None:
            return rejection
        counters.sessions_issued += 1
        return json_reply(self.sessions.issue(account.key, region, self.clock.now_ms()))

    def _check_password(
        self,
        guard_key: str,
        account: SimAccount | None,
        password: str,
        counters: AccountCounters,
    ) -> Reply | None:
        now_ms = self.clock.now_ms()
        if self._guard.locked(guard_key, now_ms):
            counters.failed_logins += 1
            return self._fault(
                faults.MAX_ATTEMPTS_EXCEEDED, "Maximum authentication attempts exceeded"
            )
        if account is None or password != account.password:
            counters.failed_logins += 1
            self._guard.failed(guard_key, now_ms)
            return self._fault(faults.ACCOUNT_PASSWORD_INVALID, "Publisher account password failed")
        self._guard.succeeded(guard_key)
        return None

    def _read(self, region: Region, query: Mapping[str, str]) -> Reply:
        now_ms = self.clock.now_ms()
        session_id = query.get("sessionId", query.get("sessionID"))
        state, account_key = (SessionState.UNKNOWN, None)
        if session_id is not None:
            state, account_key = self.sessions.state(session_id, region, now_ms)
        minutes_sent, max_count_sent = query.get("minutes"), query.get("maxCount")
        self.read_log.append(
            ReadRequest(account_key, session_id, minutes_sent, max_count_sent, now_ms)
        )
        if session_id is None:
            return self._fault(faults.INVALID_ARGUMENT, "sessionId is required")
        if session_id == faults.ZERO_UUID:
            return empty_reply()
        if self._rejected_reads:
            code = self._rejected_reads.popleft()
            return self._fault(code, "Session not active or timed out")
        if state is SessionState.UNKNOWN:
            return self._fault(faults.SESSION_ID_NOT_FOUND, "Failed to find session object")
        if state is SessionState.ENDED:
            return self._fault(faults.SESSION_NOT_VALID, "Session not active or timed out")
        minutes = _positive_int(minutes_sent)
        max_count = _positive_int(max_count_sent)
        if minutes is None or max_count is None:
            return self._fault(faults.INVALID_ARGUMENT, "minutes and maxCount must be positive")
        assert account_key is not None
        self.counters(account_key).reads += 1
        account = self._accounts[account_key]
        if account.share == "no_receiver":
            return self._fault(
                faults.MONITORED_RECEIVER_NOT_ASSIGNED, "Monitored receiver not assigned"
            )
        readings = compact_json(self._reading_objects(account, now_ms, minutes, max_count))
        body = self._inflate(account_key, readings)
        self.answers.append(
            ServedAnswer(
                account_key,
                now_ms,
                minutes,
                max_count,
                len(body),
                hashlib.sha256(body).hexdigest(),
                inflated=body is not readings,
            )
        )
        self.last_read_body[account_key] = body
        self.last_read_body.move_to_end(account_key)
        while len(self.last_read_body) > LAST_BODIES_KEPT:
            self.last_read_body.popitem(last=False)
        return Reply(200, body)

    def _reading_objects(
        self, account: SimAccount, now_ms: int, minutes: int, max_count: int
    ) -> list[object]:
        if account.share == "no_follower":
            return []
        readings = self._traces[account.key].readings(
            now_ms, minutes=minutes, max_count=max_count, history_ms=self.history_ms
        )
        objects: list[object] = [
            reading_object(
                self._revisions.as_served(account.key, reading, now_ms),
                date_style=account.date_style,
                trend_style=account.trend_style,
                utc_offset_minutes=account.utc_offset_minutes,
            )
            for reading in readings
        ]
        pending = self._take_malformed(account.key)
        if pending is not None and objects:
            near = objects[0]
            assert isinstance(near, dict)
            objects.insert(1, malformed_object(pending, near))
        return objects

    def _inflate(self, account_key: str, body: bytes) -> bytes:
        pending = self._inflated.get(account_key)
        if not pending:
            return body
        size = pending.popleft()
        items = body[1:-1] or compact_json({"WT": "Date(0)", "ST": "Date(0)", "Value": 100})
        copies = -(-size // (len(items) + 1))
        return b"[" + b",".join([items] * copies) + b"]"

    def _take_malformed(self, account_key: str) -> MalformedKind | None:
        for pending in self._malformed:
            if pending.account_key in (None, account_key):
                pending.remaining -= 1
                if pending.remaining <= 0:
                    self._malformed.remove(pending)
                return pending.kind
        return None

    def _fault(self, code: str, message: str) -> Reply:
        return fault_reply(code, message, self.clock.now_ms())


def _guard_key(region: str, name_key: str) -> str:
    return f"{region}:{name_key}"


def _login_fields(body: bytes, id_field: str) -> tuple[str, str, str] | None:
    value = json_object(body)
    if value is None:
        return None
    fields = (value.get(id_field), value.get("password"), value.get("applicationId"))
    if not all(isinstance(field, str) and field for field in fields):
        return None
    return str(fields[0]), str(fields[1]), str(fields[2])


def _positive_int(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    value = int(text)
    return value if value > 0 else None

"""The Share simulator holds 10,000 accounts and finds each by name or by account id."""

from __future__ import annotations

import json

from nightstream.simulators.dexcomshare import ManualClock, generate_accounts
from nightstream.simulators.dexcomshare.service import ShareService
from nightstream.sources.dexcomshare.servers import (
    AUTHENTICATE,
    LOGIN_BY_ID,
    READ_GLUCOSE,
    US_APPLICATION_ID,
)

START_MS = 1_790_000_000_000


def test_ten_thousand_accounts_log_in_and_read() -> None:
    accounts = generate_accounts(10_000, seed=3)
    service = ShareService(accounts, clock=ManualClock(START_MS), seed=3)
    for account in (accounts[0], accounts[4_999], accounts[-1]):
        login = {"password": account.password, "applicationId": US_APPLICATION_ID}
        body = json.dumps({"accountName": account.username, **login}).encode()
        account_id = service.handle("us", AUTHENTICATE, {}, body)
        assert account_id is not None
        assert json.loads(account_id.body) == account.account_id
        body = json.dumps({"accountId": account.account_id, **login}).encode()
        session = service.handle("us", LOGIN_BY_ID, {}, body)
        assert session is not None
        query = {"sessionId": json.loads(session.body), "minutes": "60", "maxCount": "12"}
        read = service.handle("us", READ_GLUCOSE, query, b"")
        assert read is not None
        assert len(json.loads(read.body)) == 12
    assert service.counters(accounts[-1].username).sessions_issued == 1

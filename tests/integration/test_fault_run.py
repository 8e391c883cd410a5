"""The fault run's short form (issue #6; the full form is ``python -m bench.fault_run``).

Four simulated Dexcom links for four simulated hours at 240x: two instances each of the poller
(sharing the links over the links topic), the processor and the sink are each SIGKILLed three
times, one processor and one sink are SIGSTOPped past the session timeout and then resumed, the
broker restarts once, Nightscout fails or hangs 20 % of requests, the simulator answers errors
and ends sessions, revises readings it served, answers once past the raw record limit, and bad
records are made on purpose.
A second link reads the first account's stream for a clinic site. Afterwards each site must hold
every reading the simulator served for its streams exactly once, with its latest value, the DLQ
exactly the bad records and the oversize answer, and no link may have run on both pollers at
once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bench.common import table
from bench.fault_run import POLLERS, ROLES, BrokerRestart, FaultRunConfig, LocalKafka, fault_run
from tests.kafka_broker import KafkaBroker
from tests.timing import scaled

pytestmark = pytest.mark.kafka

SHORT = FaultRunConfig(
    links=4,
    simulated_hours=4.0,
    speed=240.0,
    kills_per_role=3,
    broker_restarts=1,
    seed=6,
    malformed_readings=3,
    garbled_raw_records=2,
    oversize_answers=1,
    revised_readings=3,
    first_polls_timeout_s=scaled(60.0),
    final_polls_timeout_s=scaled(90.0),
    settle_timeout_s=scaled(75.0),
)


@asynccontextmanager
async def restartable_broker(
    session: KafkaBroker, directory: Path
) -> AsyncIterator[tuple[str, BrokerRestart]]:
    """The session's broker when it can be restarted, else a local broker of this test's own."""
    if session.supports_restart:
        yield session.bootstrap, session.restart_async
        return
    own = LocalKafka(directory)
    bootstrap = await own.start()
    try:
        yield bootstrap, own.restart
    finally:
        await own.stop()


@pytest.mark.timeout(420)
async def test_short_fault_run_lands_each_reading_once_and_dead_letters_only_bad_records(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    async with restartable_broker(kafka_broker, tmp_path / "kafka") as (bootstrap, restart):
        report = await fault_run(
            SHORT, bootstrap=bootstrap, restart_broker=restart, workdir=logs, say=print
        )
    print(table(report.rows()))
    problems = "\n".join(report.problems)

    # The faults happened as asked.
    assert report.kills == dict.fromkeys(ROLES, 3)
    assert report.pauses == {"processor-b": 1, "sink-b": 1}
    assert report.broker_restarts == 1
    assert sum(report.ns_faults.values()) > 0
    assert report.vendor.transport_failures_served > 0
    assert report.vendor.session_expiries >= 1
    assert report.vendor.rejected_reads >= 1
    # Two pollers shared the links, each link on one of them at a time.
    assert set(report.ownership.links_by_owner) == set(POLLERS), problems
    assert report.ownership.overlaps == 0, problems
    assert report.ownership.stopped == 0, problems
    # Readings revised after they were served came again with their new value: new versions.
    assert report.vendor.revisions_made == SHORT.revised_readings
    assert report.revisions_served >= 1
    assert 1 <= report.versions_changed <= report.revisions_both_in_raw
    # The oversize answer was served; it is a dead letter, not a missing window.
    assert report.oversize_served == SHORT.oversize_answers
    assert report.dlq_expected_by_kind.get("oversize") == SHORT.oversize_answers
    # Every link ran through the simulated hours: its first 24 h window plus 4 h of readings;
    # the clinic holds the first stream, which a second link reads for it.
    assert report.expected_entries >= (SHORT.links + 1) * (288 + 40)
    assert report.held_by_site["clinic"] >= 288 + 40

    assert report.missing == 0, problems
    assert report.duplicates == 0, problems
    assert report.unexpected_entries == 0, problems
    assert report.wrong_content == 0, problems
    assert report.stale == 0, problems
    assert report.held_entries == report.expected_entries
    assert report.other_documents == 0

    assert report.garbled_produced == SHORT.garbled_raw_records
    assert report.garbled_in_dlq == report.garbled_produced
    assert report.dlq_expected_by_kind.get("malformed reading", 0) >= 1
    assert report.dlq_missing == 0, problems
    assert report.dlq_unexpected == 0, problems
    assert report.dlq_found == report.dlq_expected

"""The fault run's short form (issue #6; the full form is ``python -m bench.fault_run``).

Four simulated Dexcom links for four simulated hours at 240x: two instances each of the
processor and of the sink and one poller are each SIGKILLed three times, one processor and one
sink are SIGSTOPped past the session timeout and then resumed, the broker restarts once,
Nightscout fails or hangs 20 % of requests, the simulator answers errors and ends sessions, and
bad records are made on purpose.
A second link reads the first account's stream for a clinic site. Afterwards each site must hold
every reading the simulator served for its streams exactly once, and the DLQ exactly the bad
records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bench.common import table
from bench.fault_run import BrokerRestart, FaultRunConfig, LocalKafka, fault_run
from tests.kafka_broker import KafkaBroker

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
    settle_timeout_s=150.0,
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
    assert report.kills == {
        "poller": 3,
        "processor-a": 3,
        "processor-b": 3,
        "sink-a": 3,
        "sink-b": 3,
    }
    assert report.pauses == {"processor-b": 1, "sink-b": 1}
    assert report.broker_restarts == 1
    assert sum(report.ns_faults.values()) > 0
    assert report.vendor.transport_failures_served > 0
    assert report.vendor.session_expiries >= 1
    assert report.vendor.rejected_reads >= 1
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

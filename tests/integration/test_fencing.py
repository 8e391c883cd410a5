"""Two sink instances of one target, as an operator scales out, on the real broker.

Reproduced in the first release: instance A fetched version 1 of many documents and its writes
stalled (Nightscout failing, the client retrying); A stood still past the group's session
timeout; B took the partitions and wrote version 2; when A went on, its version-1 PUTs went out
and Nightscout kept the older version forever. A then died on ``CommitFailedError``. Starting a
second sink while the first had a backlog crashed the first ("Partition ... is not assigned").
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from nightstream.kafka_offsets import sink_backlog
from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.identity import entry_identifier
from nightstream.simulators.nightscout import Faults, NightscoutTestServer
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.integration.topic_records import bind_streams, produce_documents
from tests.timing import scaled

pytestmark = pytest.mark.kafka

STREAM = "nightstream://dexcomshare/0f0f0f0f0f0f"
START = 1_790_000_000_000
DOCUMENTS = 300
SESSION_TIMEOUT_S = 15


def _version(sgv_offset: int, fetched_at: int) -> list[NsRecord]:
    records = []
    for n in range(DOCUMENTS):
        date = START + n * 300_000
        document = {
            "identifier": entry_identifier(STREAM, date, "sgv"),
            "device": STREAM,
            "date": date,
            "type": "sgv",
            "sgv": 100 + sgv_offset + n % 50,
            "app": "nightstream",
        }
        records.append(NsRecord(Collection.ENTRIES, STREAM, document, fetched_at))
    return records


async def _prepared(
    pipeline: Pipeline, nightscout: NightscoutTestServer, records: list[NsRecord]
) -> None:
    """One target ``home`` on ``nightscout``, and ``records`` waiting on its topics."""
    token = nightscout.create_access_token("sink", permissions=["api:*:create", "api:*:update"])
    link = LinkSpec("only", "u", "pw", "us", "http://127.0.0.1:9", targets=("home",))
    pipeline.write_config({"home": (nightscout.url, token)}, [link], target_timeout=3.0)
    await pipeline.create_topics()
    await bind_streams(pipeline.bootstrap, pipeline.prefix, {"only": STREAM})
    await produce_documents(pipeline.bootstrap, pipeline.prefix, records)


def _sgvs(nightscout: NightscoutTestServer) -> dict[str, int]:
    return {str(d["identifier"]): int(d["sgv"]) for d in nightscout.store.documents("entries")}


async def test_a_stopped_sink_writes_no_older_version_after_another_took_over(
    nightscout: NightscoutTestServer, pipeline: Pipeline
) -> None:
    await _prepared(pipeline, nightscout, _version(0, START))
    # Every write fails: instance A holds version 1 of the documents in its retry loop.
    nightscout.faults = Faults(error_rate=1.0, methods=("PUT",))
    a = pipeline.start("sink-a", "sink")

    async def a_is_retrying() -> bool:
        return nightscout.stats.count(method="PUT") >= 10

    await wait_until(a_is_retrying, within=90, what="instance A to try its first writes")
    a.send_signal(signal.SIGSTOP)
    try:
        # Past the session timeout the group gives A's partitions to B, which writes the
        # newer version that the vendor's next answer brought.
        await asyncio.sleep(SESSION_TIMEOUT_S + 5)
        nightscout.faults = Faults()
        newer = _version(50, START + 600_000)
        await produce_documents(pipeline.bootstrap, pipeline.prefix, newer)
        pipeline.start("sink-b", "sink")
        expected = {r.identifier: int(r.document["sgv"]) for r in newer}

        async def b_wrote_all() -> bool:
            return _sgvs(nightscout) == expected

        await wait_until(b_wrote_all, within=120, what="instance B to write version 2")
    finally:
        a.send_signal(signal.SIGCONT)
    puts_before = nightscout.stats.count(method="PUT")
    # A wakes up with version-1 writes pending; give them every chance to go out, during
    # and after its quarantine (one session timeout).
    await asyncio.sleep(SESSION_TIMEOUT_S + scaled(10))
    assert _sgvs(nightscout) == expected, "a stale version overwrote a newer one"
    assert a.poll() is None, f"instance A died:\n{pipeline.log('sink-a')[-3000:]}"
    assert nightscout.stats.count(method="PUT") == puts_before, "instance A wrote after it woke"
    assert "dropped unacknowledged" in pipeline.log("sink-a")
    assert "Traceback" not in pipeline.log("sink-a")


async def test_a_second_sink_started_during_a_backlog_shares_it_without_crashing_the_first(
    nightscout: NightscoutTestServer, pipeline: Pipeline
) -> None:
    records = _version(0, START)
    await _prepared(pipeline, nightscout, records)
    # A slow site keeps a backlog in the first instance when the second one joins.
    nightscout.faults = Faults(hang_rate=0.2, hang_seconds=1.0, seed=3)
    first = pipeline.start("sink-1", "sink")

    async def started() -> bool:
        return nightscout.stats.count(method="PUT") >= 20

    await wait_until(started, within=90, what="the first sink to start writing")
    second = pipeline.start("sink-2", "sink")

    async def drained() -> bool:
        lag = await sink_backlog(pipeline.bootstrap, pipeline.prefix)
        return lag == 0 and len(_sgvs(nightscout)) == DOCUMENTS

    await wait_until(drained, within=180, what="both sinks to drain the backlog")
    assert first.poll() is None, pipeline.log("sink-1")[-3000:]
    assert second.poll() is None, pipeline.log("sink-2")[-3000:]
    assert _sgvs(nightscout) == {r.identifier: int(r.document["sgv"]) for r in records}
    for name in ("sink-1", "sink-2"):
        assert "Traceback" not in pipeline.log(name)

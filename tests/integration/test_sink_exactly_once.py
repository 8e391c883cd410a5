"""The Nightscout sink on the real broker: the latest version of each document, exactly once,
through SIGKILLs, a failing and hanging server, late targets, re-consumption and user deletes."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nightstream.config import load_settings
from nightstream.kafka_offsets import group_lag, sink_backlog
from nightstream.roles import build_delivery_role
from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.identity import nightscout_identifier
from nightstream.simulators.nightscout import Faults, NightscoutTestServer
from nightstream.sinks.nightscout.site_stats import SinkStats
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.integration.topic_records import bind_streams, produce_documents, sgv_entry

pytestmark = pytest.mark.kafka

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
LINK = "p-sink"
DEVICE = "nightstream://dexcomshare/0123456789ab"
START = 1_790_000_000_000
SERVER_FIELDS = {"_id", "srvModified", "srvCreated", "subject", "modifiedBy", "isValid"}


def _documents(rng: random.Random) -> list[NsRecord]:
    """Versions in production order: some documents updated, some sent twice."""
    records: list[NsRecord] = []
    records += [sgv_entry(DEVICE, START + i * 300_000, 100 + i % 50) for i in range(300)]
    for i in range(100):
        date = START + i * 900_000
        doc = {
            "device": DEVICE,
            "date": date,
            "eventType": "Correction Bolus",
            "insulin": 1.0 + i / 10,
            "app": "nightstream",
            "utcOffset": 0,
            "identifier": nightscout_identifier(DEVICE, date, "Correction Bolus"),
        }
        records.append(NsRecord(Collection.TREATMENTS, DEVICE, doc))
    for i in range(50):
        date = START + i * 1_800_000
        doc = {
            "device": DEVICE,
            "date": date,
            "app": "nightstream",
            "utcOffset": 0,
            "pump": {"reservoir": 200 - i, "battery": {"percent": 90}},
            "identifier": nightscout_identifier(DEVICE, date),
        }
        records.append(NsRecord(Collection.DEVICESTATUS, DEVICE, doc))
    updates = [
        NsRecord(r.collection, r.stream, {**r.document, "notes": "corrected"})
        for r in rng.sample(records, 60)
    ]
    repeats = rng.sample(records, 40)
    return records + updates + repeats


Key = tuple[Collection, str]


def _latest(records: list[NsRecord]) -> dict[Key, NsRecord]:
    return {(r.collection, r.identifier): r for r in records}


async def _produce(bootstrap: str, prefix: str, records: list[NsRecord]) -> None:
    await bind_streams(bootstrap, prefix, {LINK: DEVICE})
    await produce_documents(bootstrap, prefix, records)


def _stored(server: NightscoutTestServer, include_deleted: bool = False) -> dict[Key, Any]:
    out: dict[Key, Any] = {}
    for collection in Collection:
        for doc in server.store.documents(collection.value, include_deleted=include_deleted):
            key = (collection, doc["identifier"])
            assert key not in out, f"duplicate {key}"
            out[key] = doc
    return out


def _assert_holds_exactly(server: NightscoutTestServer, expected: dict[Key, NsRecord]) -> None:
    stored = _stored(server)
    assert set(stored) == set(expected)
    for key, record in expected.items():
        doc = stored[key]
        assert {k: doc.get(k) for k in record.document} == record.document, (key, doc)
        assert set(doc) - set(record.document) <= SERVER_FIELDS | {"created_at"}, key


@pytest.fixture
async def servers() -> AsyncIterator[tuple[NightscoutTestServer, NightscoutTestServer]]:
    first = NightscoutTestServer(api_secret=os.urandom(12).hex())
    late = NightscoutTestServer(api_secret=os.urandom(12).hex())
    await first.start()
    await late.start()
    yield first, late
    await first.stop()
    await late.stop()


async def test_sink_keeps_each_document_exactly_once_through_kills_faults_and_replays(
    kafka_bootstrap: str,
    tmp_path: Path,
    servers: tuple[NightscoutTestServer, NightscoutTestServer],
) -> None:
    server, late_server = servers
    rng = random.Random(20261126)
    records = _documents(rng)
    expected = _latest(records)
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    link = LinkSpec(LINK, "user", "pw", "us", "http://127.0.0.1:9", targets=("ns", "late"))
    targets = {
        "ns": (server.url, server.create_access_token("sink", permissions=UPLOADER)),
        "late": (late_server.url, late_server.create_access_token("sink", permissions=UPLOADER)),
    }
    pipeline.write_config(targets, [link], target_timeout=3.0)
    await pipeline.create_topics()
    await _produce(kafka_bootstrap, pipeline.prefix, records)
    ns_topics = [f"{pipeline.prefix}.ns.{c.value}" for c in Collection]

    # 30% of requests fail with 500/503 (half of them after the write happened), some hang.
    server.faults = Faults(
        error_rate=0.3, hang_rate=0.03, hang_seconds=8.0, after_write_rate=0.5, seed=7
    )
    try:
        for _ in range(4):
            pipeline.start("sink", "sink", "--target", "ns")
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            pipeline.kill("sink")
        pipeline.start("sink", "sink", "--target", "ns")

        async def drained() -> bool:
            return (
                await sink_backlog(kafka_bootstrap, pipeline.prefix, f"{pipeline.prefix}-sink-ns")
                == 0
            )

        await wait_until(drained, within=480, what="the sink to drain under faults", interval=1)
    finally:
        pipeline.stop_all()
    assert server.stats.faults_injected, "no fault was injected: the test proves nothing"
    server.faults = Faults()
    _assert_holds_exactly(server, expected)

    # A target added later receives the whole history from the compacted topics.
    settings = load_settings({}, pipeline.config)
    stop = asyncio.Event()
    late_stats = SinkStats()
    late_run = asyncio.create_task(
        build_delivery_role(settings, ["late"], stats={"late": late_stats})(stop)
    )
    await wait_until(
        lambda: _async_len(late_server, len(expected)), within=120, what="the late target"
    )
    stop.set()
    await late_run
    _assert_holds_exactly(late_server, expected)

    # Consuming everything again (a new consumer group) writes nothing: all unchanged.
    writes_before = server.stats.count(method="PUT")
    again = SinkStats()
    stop = asyncio.Event()
    rerun = asyncio.create_task(
        build_delivery_role(
            settings, ["ns"], group_id=f"{pipeline.prefix}-again", stats={"ns": again}
        )(stop)
    )

    async def reconsumed() -> bool:
        return await group_lag(kafka_bootstrap, f"{pipeline.prefix}-again", ns_topics) == 0

    await wait_until(reconsumed, within=120, what="the re-consumption to finish", interval=1)
    stop.set()
    await rerun
    assert again.written == 0, str(again)
    assert server.stats.count(method="PUT") == writes_before
    assert again.skipped_unchanged >= len(expected)

    # A document the user deleted in Nightscout is not brought back by a newer version.
    victim = next(r for r in expected.values() if r.collection is Collection.TREATMENTS)
    admin = server.create_access_token("admin", roles=["admin"])
    async with httpx.AsyncClient(base_url=server.url) as http:
        jwt = (await http.get(f"/api/v2/authorization/request/{admin}")).json()["token"]
        deleted = await http.delete(
            f"/api/v3/treatments/{victim.identifier}", headers={"Authorization": f"Bearer {jwt}"}
        )
        assert deleted.status_code == 200
    newer = NsRecord(victim.collection, DEVICE, {**victim.document, "notes": "edited at vendor"})
    await _produce(kafka_bootstrap, pipeline.prefix, [newer])
    stats = SinkStats()
    stop = asyncio.Event()
    run = asyncio.create_task(build_delivery_role(settings, ["ns"], stats={"ns": stats})(stop))
    await wait_until(
        lambda: _async_true(stats.deleted_by_user == 1), within=60, what="the 410 answer"
    )
    stop.set()
    await run
    assert (Collection.TREATMENTS, victim.identifier) not in _stored(server)
    kept = _stored(server, include_deleted=True)[(Collection.TREATMENTS, victim.identifier)]
    assert kept["isValid"] is False
    assert kept.get("notes") != "edited at vendor"


async def _async_len(server: NightscoutTestServer, count: int) -> bool:
    return len(_stored(server)) == count


async def _async_true(value: bool) -> bool:
    return value

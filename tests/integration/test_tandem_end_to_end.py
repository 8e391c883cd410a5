"""Tandem Source -> Kafka -> processor -> sink -> Nightscout, on the real broker, as processes.

A simulated pump with 14 days of mixed events (readings, basal records, boluses, carbs,
suspensions, fills, sensor sessions, alarms, CGM alerts, daily status, codes nobody maps) and an
EU pump are backfilled by the poller while every role is SIGKILLed once mid-way; one answer
carries an event no parser accepts. Then a second link reads the same pump from scratch (every
window polled again) and the first link polls an overlapping window after new data arrived.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from nightstream.config import load_settings
from nightstream.kafka_offsets import group_lag, records_in, sink_backlog
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.compacted import read_latest
from nightstream.schemas.documents import Collection
from nightstream.schemas.identity import stream_digest
from nightstream.schemas.records import DeadLetter, RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.simulators.kit.lockout import LockoutPolicy
from nightstream.simulators.kit.replies import compact_json
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.simulators.tandem import SimOptions, SimPump, TandemAccount, TandemSimulator
from nightstream.simulators.tandem.service import MALFORMED_EVENT
from nightstream.sources.runner import LinkState, PollerOptions
from nightstream.sources.simclock import ManualClock, wall_clock_ms
from nightstream.streams.tandem import transform
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until

pytestmark = pytest.mark.kafka

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
DAY_MS = 86_400_000
NOW_MS = wall_clock_ms()
ADA_PUMP = SimPump("1100001", first_event_ms=NOW_MS - 20 * DAY_MS, daily_basal_events=True)
BO_PUMP = SimPump(
    "2200002",
    model="Tandem Mobi",
    cgm="libre3",
    time_zone="Europe/Berlin",
    first_event_ms=NOW_MS - 20 * DAY_MS,
)
ACCOUNTS = (
    TandemAccount("ada@example.com", "pw-ada-1", region="us", pumps=(ADA_PUMP,)),
    TandemAccount("bo@example.com", "pw-bo-2", region="eu", pumps=(BO_PUMP,)),
)
# Logins here come from several short-lived pollers; the firewall ban is tested elsewhere.
OPTIONS = SimOptions(seed=11, login_ban=LockoutPolicy(failures=1000, lockout_ms=1000))


@dataclass(frozen=True)
class Link:
    link_id: str
    account: TandemAccount
    pump: SimPump
    zone: str
    backfill_days: int

    def spec(self, server_url: str) -> LinkSpec:
        extra = (
            ("timezone", self.zone),
            ("backfill_days", str(self.backfill_days)),
            ("pump_serial", self.pump.serial),
        )
        return LinkSpec(
            self.link_id,
            self.account.email,
            self.account.password,
            self.account.region,
            server_url,
            vendor="tandem",
            extra=extra,
        )

    def expected(self, sim: TandemSimulator, now_ms: int) -> Counter[tuple[str, str]]:
        """Every document the link's backfill range holds: the transform over one answer
        holding all of it (the golden tests pin what the transform gives)."""
        today = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(self.zone)).date()
        start = today - timedelta(days=self.backfill_days - 1)
        events = sim.service.log(self.pump.assignment_id).events(start, today, now_ms)
        raw = RawPayload(
            link_id=self.link_id,
            vendor="tandem",
            endpoint="pump-logs",
            fetched_at_ms=now_ms,
            http_status=200,
            poller_version="test",
            source_tz=self.zone,
            body=json.dumps({"events": events, "clockChanges": []}).encode(),
            request_params={"stream": stream_digest(self.pump.assignment_id)},
        )
        output = transform(raw)
        assert output.rejected == []
        return Counter((r.collection.value, r.identifier) for r in output.records)


ADA = Link("tandem-ada", ACCOUNTS[0], ADA_PUMP, "America/New_York", 14)
BO = Link("tandem-bo", ACCOUNTS[1], BO_PUMP, "Europe/Berlin", 1)
ADA_AGAIN = Link("tandem-ada-clinic", ACCOUNTS[0], ADA_PUMP, "America/New_York", 14)


def landed(server: NightscoutTestServer) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for collection in Collection:
        for document in server.store.documents(collection.value, include_deleted=True):
            found[(collection.value, str(document["identifier"]))] += 1
    return found


async def settled(pipeline: Pipeline) -> None:
    names = TopicNames(pipeline.prefix)

    async def caught_up() -> bool:
        raw = [names.raw("tandem")]
        processor = await group_lag(pipeline.bootstrap, f"{pipeline.prefix}-processor", raw)
        sink = await sink_backlog(pipeline.bootstrap, pipeline.prefix)
        return processor == 0 and sink == 0

    await wait_until(caught_up, within=240, what="processor and sink to catch up", interval=1)


async def poll_once(pipeline: Pipeline, clock: ManualClock, link_id: str) -> int:
    """One poll of one link in this process; how many payloads it published."""
    settings = load_settings({}, pipeline.config)
    options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
    poller = build_poller(settings, options, [link_id], clock=clock.now_ms)
    await poller.run(asyncio.Event())
    status = poller.status[link_id]
    assert status.state is LinkState.DONE, status
    return status.payloads_published


async def test_a_pump_lands_exactly_once_through_kills_bad_events_and_repolls(
    pipeline: Pipeline, nightscout: NightscoutTestServer
) -> None:
    clock = ManualClock(NOW_MS)
    async with TandemSimulator(ACCOUNTS, clock=clock, options=OPTIONS) as sim:
        token = nightscout.create_access_token("sink", permissions=UPLOADER)
        links = [ADA, BO, ADA_AGAIN]
        pipeline.write_config({"ns": (nightscout.url, token)}, [k.spec(sim.url) for k in links])
        await pipeline.create_topics()
        names = TopicNames(pipeline.prefix)
        raw_topic = names.raw("tandem")
        expected = ADA.expected(sim, clock.now_ms()) + BO.expected(sim, clock.now_ms())
        kinds = Counter(collection for collection, _ in expected)
        assert kinds["entries"] > 13 * 280
        assert kinds["treatments"] > 13 * 280
        assert kinds["devicestatus"] >= 13

        # Backfill with every role running as a process; each is SIGKILLed once mid-way.
        # BO's one-day window fits one message at once: its first answer is the one published.
        sim.inject_malformed_events(1, BO_PUMP.assignment_id)
        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")
        pipeline.start("poller", "poll", "--link", ADA.link_id, "--link", BO.link_id)

        async def raw_records(at_least: int) -> None:
            async def enough() -> bool:
                return await records_in(pipeline.bootstrap, raw_topic) >= at_least

            await wait_until(enough, within=120, what=f"{at_least} raw payloads")

        async def documents(at_least: int) -> None:
            async def enough() -> bool:
                return sum(landed(nightscout).values()) >= at_least

            await wait_until(enough, within=240, what=f"{at_least} documents in Nightscout")

        await raw_records(2)
        pipeline.kill("poller")
        pipeline.start("poller", "poll", "--link", ADA.link_id, "--link", BO.link_id)
        await documents(1500)
        pipeline.kill("processor")
        pipeline.start("processor", "process")
        await documents(4000)
        pipeline.kill("sink")
        pipeline.start("sink", "sink")

        async def all_landed() -> bool:
            return set(landed(nightscout)) == set(expected)

        await wait_until(all_landed, within=400, what="both pumps' documents in Nightscout")
        await settled(pipeline)
        pipeline.kill("poller")
        assert landed(nightscout) == expected  # each exactly once, nothing else
        assert sim.counters_for(ADA.account.email)["logins"] == 2  # one per poller process

        # The one bad event went to the DLQ with its reason and bytes; the rest landed.
        assert await records_in(pipeline.bootstrap, names.dlq) == 1
        letters = await read_latest(pipeline.bootstrap, names.dlq)
        [value] = letters.values()
        letter = DeadLetter.from_avro(make_serde("dead_letter", subject="d").decode(value))
        assert (letter.stage, letter.vendor, letter.source_topic) == (
            "transform",
            "tandem",
            raw_topic,
        )
        assert letter.reason.startswith("events[")
        assert "pumpDateTime" in letter.reason
        assert letter.original_value == compact_json(MALFORMED_EVENT)

        # A second link reads the same pump from scratch: every window is polled again and
        # nothing is published or written.
        published = {c: await records_in(pipeline.bootstrap, names.ns(c)) for c in Collection}
        writes = nightscout.stats.count(method="PUT")
        raws = await records_in(pipeline.bootstrap, raw_topic)
        polled = [await poll_once(pipeline, clock, ADA_AGAIN.link_id) for _ in range(7)]
        assert sum(polled) >= 5
        assert polled[-1] == 0  # caught up, and the pump has not uploaded since
        await raw_records(raws + sum(polled))
        await settled(pipeline)
        assert {
            c: await records_in(pipeline.bootstrap, names.ns(c)) for c in Collection
        } == published
        assert nightscout.stats.count(method="PUT") == writes
        assert landed(nightscout) == expected

        # New data: the first link's next window overlaps what it read; only the new
        # documents are published and written.
        clock.advance(16 * 60_000)
        now_expected = ADA.expected(sim, clock.now_ms()) + BO.expected(sim, clock.now_ms())
        new = set(now_expected) - set(expected)
        assert len(new) >= 6
        assert await poll_once(pipeline, clock, ADA.link_id) == 1
        await poll_once(pipeline, clock, BO.link_id)

        async def new_landed() -> bool:
            return set(landed(nightscout)) >= set(now_expected)

        await wait_until(new_landed, within=120, what="the new documents in Nightscout")
        await settled(pipeline)
        assert landed(nightscout) == now_expected + Counter(expected.keys() - now_expected.keys())
        assert nightscout.stats.count(method="PUT") == writes + len(new)
        assert await records_in(pipeline.bootstrap, names.dlq) == 1

"""LibreLinkUp -> Kafka -> processor -> sink -> Nightscout, on the real broker, as processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

import pytest

from nightstream.config import load_settings
from nightstream.kafka_offsets import group_lag, records_in, sink_backlog
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.compacted import read_latest
from nightstream.schemas.documents import Collection
from nightstream.schemas.identity import (
    device_name,
    entry_identifier,
    nightscout_identifier,
    stream_digest,
)
from nightstream.schemas.records import DeadLetter
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames
from nightstream.simulators.kit.glucose import MINUTE_MS
from nightstream.simulators.kit.replies import compact_json
from nightstream.simulators.librelinkup import (
    ABBOTT_LOCKOUT,
    LluAccount,
    LluSimulator,
    SimOptions,
    SimPatient,
)
from nightstream.simulators.librelinkup.accounts import MG_DL, MMOL_L
from nightstream.simulators.librelinkup.service import MALFORMED_POINT
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.sources.librelinkup.hosts import REGION_PLACEHOLDER
from nightstream.sources.runner import LinkState, Poller, PollerOptions
from nightstream.sources.simclock import ManualClock, wall_clock_ms
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until

pytestmark = pytest.mark.kafka

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
SENSOR_START = "Sensor Start"


def _patient(name: str, zone: str, *, mmol: bool = False) -> SimPatient:
    patient_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nightstream-it/{name}"))
    return SimPatient(patient_id, name, units=MMOL_L if mmol else MG_DL, time_zone=zone)


ADA = _patient("Ada", "Europe/Berlin")
BO = _patient("Bo", "America/New_York", mmol=True)
KIM = _patient("Kim", "Europe/London", mmol=True)
LEE = _patient("Lee", "Europe/London")
KAI = _patient("Kai", "Asia/Singapore")
DEE = _patient("Dee", "Europe/Berlin")

ACCOUNTS = (
    LluAccount("ada@example.com", "pw-ada-1", region="eu", patients=(ADA,)),
    LluAccount("bo@example.com", "pw-bo-2", region="us", patients=(BO,)),
    LluAccount("family@example.com", "pw-family-3", region="eu2", patients=(KIM, LEE)),
    LluAccount("kai@example.com", "pw-kai-4", region="ap", patients=(KAI,)),
    LluAccount("dee@example.com", "pw-dee-5", region="de", patients=(DEE,)),
)


@dataclass(frozen=True)
class Link:
    link_id: str
    account: LluAccount
    patient: SimPatient
    region: str
    """As configured: the account's own region, or ``auto`` (the global host redirects)."""
    patient_configured: bool = True

    def spec(self, server_url: str) -> LinkSpec:
        extra = [("llu_version", "4.16.0")]
        if self.patient_configured:
            extra.append(("patient_id", self.patient.patient_id))
        account = self.account
        return LinkSpec(
            self.link_id,
            account.email,
            account.password,
            self.region,
            server_url,
            vendor="librelinkup",
            extra=tuple(extra),
        )

    @property
    def device(self) -> str:
        return device_name("librelinkup", stream_digest(self.patient.patient_id))


LINKS = (
    Link("llu-ada", ACCOUNTS[0], ADA, "eu"),
    Link("llu-bo", ACCOUNTS[1], BO, "us"),
    Link("llu-kim", ACCOUNTS[2], KIM, "eu2"),
    Link("llu-lee", ACCOUNTS[2], LEE, "eu2"),
    Link("llu-kai", ACCOUNTS[3], KAI, "auto"),
    Link("llu-dee", ACCOUNTS[4], DEE, "de", patient_configured=False),
)


@dataclass
class Expected:
    """Identifiers the polls so far must have put in Nightscout, each exactly once."""

    entries: set[str]
    treatments: set[str]

    def add(self, sim: LluSimulator, links: Iterable[Link], now_ms: int) -> None:
        step_ms = sim.service.options.history_step_ms
        for link in links:
            feed = sim.service.feed(link.patient)
            readings = [*feed.history(now_ms, step_ms), feed.current(now_ms)]
            self.entries |= {entry_identifier(link.device, r.time_ms, "sgv") for r in readings}
            started = feed.sensor_start_ms(now_ms)
            self.treatments.add(nightscout_identifier(link.device, started, SENSOR_START))


def _poller(pipeline: Pipeline, link_ids: list[str] | None, clock: ManualClock | None) -> Poller:
    options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
    settings = load_settings({}, pipeline.config)
    if clock is None:
        return build_poller(settings, options, link_ids)
    return build_poller(settings, options, link_ids, clock=clock.now_ms)


async def _poll_once(
    pipeline: Pipeline, clock: ManualClock | None = None, link_ids: list[str] | None = None
) -> Poller:
    poller = _poller(pipeline, link_ids, clock)
    await poller.run(asyncio.Event())
    assert {s.state for s in poller.status.values()} == {LinkState.DONE}, poller.status
    return poller


async def _settled(pipeline: Pipeline) -> None:
    """Wait until the processor and the sink have committed everything there is."""
    names = TopicNames(pipeline.prefix)

    async def caught_up() -> bool:
        processor = await group_lag(
            pipeline.bootstrap, f"{pipeline.prefix}-processor", [names.raw("librelinkup")]
        )
        sink = await sink_backlog(pipeline.bootstrap, pipeline.prefix)
        return processor == 0 and sink == 0

    await wait_until(caught_up, within=90, what="processor and sink to catch up", interval=1)


def _identifiers(server: NightscoutTestServer, collection: str) -> Counter[str]:
    documents = server.store.documents(collection, include_deleted=True)
    return Counter(str(d["identifier"]) for d in documents)


def _assert_exactly_once(server: NightscoutTestServer, expected: Expected) -> None:
    entries = _identifiers(server, "entries")
    assert [i for i, n in entries.items() if n > 1] == []
    assert set(entries) == expected.entries
    docs = server.store.documents("entries", include_deleted=True)
    readings = Counter((d["device"], d["date"]) for d in docs)
    assert [r for r, n in readings.items() if n > 1] == []
    treatments = _identifiers(server, "treatments")
    assert treatments == Counter(expected.treatments)
    starts = server.store.documents("treatments")
    assert {d["eventType"] for d in starts} == {SENSOR_START}
    assert {d["device"] for d in starts} == {link.device for link in LINKS}


def _hosts_logged_into(sim: LluSimulator) -> dict[str, dict[str, int]]:
    return {a.email: dict(sim.logins_by_host(a.email)) for a in ACCOUNTS}


async def test_followers_land_once_across_redirects_bad_points_and_sigkills(
    pipeline: Pipeline, nightscout: NightscoutTestServer
) -> None:
    clock = ManualClock(wall_clock_ms())
    async with LluSimulator(ACCOUNTS, clock=clock, options=SimOptions(seed=3)) as sim:
        server_url = sim.base_url(REGION_PLACEHOLDER)
        token = nightscout.create_access_token("sink", permissions=UPLOADER)
        pipeline.write_config({"ns": (nightscout.url, token)}, [k.spec(server_url) for k in LINKS])
        await pipeline.create_topics()
        names = TopicNames(pipeline.prefix)
        entries_topic = names.ns(Collection.ENTRIES)
        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")

        # Ada's graph first, with one point no parser accepts; then every follower's graph.
        expected = Expected(set(), set())
        expected.add(sim, LINKS, clock.now_ms())
        sim.inject_malformed_points(1)
        await _poll_once(pipeline, clock, ["llu-ada"])
        await _poll_once(pipeline, clock)

        async def landed() -> bool:
            return set(_identifiers(nightscout, "entries")) == expected.entries

        await wait_until(landed, within=90, what="six patients' graphs in Nightscout")
        await _settled(pipeline)
        _assert_exactly_once(nightscout, expected)
        assert len(expected.treatments) == len(LINKS)
        writes = nightscout.stats.count(method="PUT")
        assert writes == len(expected.entries) + len(expected.treatments)
        published = await records_in(pipeline.bootstrap, entries_topic)
        assert published == len(expected.entries)

        # The bad point went to the DLQ with a reason and its exact bytes; the rest landed.
        assert await records_in(pipeline.bootstrap, names.dlq) == 1
        letters = await read_latest(pipeline.bootstrap, names.dlq)
        dlq_serde = make_serde("dead_letter", subject="d")
        letter = DeadLetter.from_avro(dlq_serde.decode(letters[b"llu-ada"]))
        assert (letter.stage, letter.vendor) == ("transform", "librelinkup")
        assert letter.link_id == "llu-ada"
        assert letter.source_topic == names.raw("librelinkup")
        assert letter.reason.startswith("data.graphData[")
        assert "FactoryTimestamp" in letter.reason
        assert letter.original_value == compact_json(MALFORMED_POINT)

        # The auto link started at the global host and followed its redirect to "ap"; every
        # other link logged in where its account lives, once per link and poll.
        assert _hosts_logged_into(sim) == {
            "ada@example.com": {"eu": 2},
            "bo@example.com": {"us": 1},
            "family@example.com": {"eu2": 2},
            "kai@example.com": {"global": 1, "ap": 1},
            "dee@example.com": {"de": 1},
        }
        assert sim.counters_for("kai@example.com")["redirects"] == 1

        # Both processes die without warning. While they are down the same windows are polled
        # again, then windows four minutes later, which overlap them but for a few readings.
        pipeline.kill("processor")
        pipeline.kill("sink")
        await _poll_once(pipeline, clock)
        clock.advance(4 * MINUTE_MS)
        before = Expected(set(expected.entries), set(expected.treatments))
        expected.add(sim, LINKS, clock.now_ms())
        new_entries = len(expected.entries) - len(before.entries)
        new_treatments = len(expected.treatments) - len(before.treatments)
        assert new_entries >= len(LINKS)
        await _poll_once(pipeline, clock)
        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")
        await wait_until(landed, within=100, what="the polls made while down in Nightscout")
        await _settled(pipeline)
        _assert_exactly_once(nightscout, expected)
        # Only the new readings were published and written, each once: nothing already in
        # Nightscout was sent again.
        assert await records_in(pipeline.bootstrap, entries_topic) == published + new_entries
        assert nightscout.stats.count(method="PUT") == writes + new_entries + new_treatments
        assert await records_in(pipeline.bootstrap, names.dlq) == 1
        # The redirect was not asked again: the cursor remembered the region.
        assert sim.logins_by_host("kai@example.com") == {"global": 1, "ap": 3}


async def test_a_locked_account_gets_one_login_per_lockout(pipeline: Pipeline) -> None:
    lockout = replace(ABBOTT_LOCKOUT, lockout_ms=2_000)
    link = LINKS[0]
    async with LluSimulator(ACCOUNTS[:1], options=SimOptions(lockout=lockout)) as sim:
        unused_target = ("http://127.0.0.1:9", "nightstream-0123456789abcdef")
        pipeline.write_config({"ns": unused_target}, [link.spec(sim.base_url(REGION_PLACEHOLDER))])
        await pipeline.create_topics()
        sim.lock_account(link.account.email)
        started = time.monotonic()
        poller = await _poll_once(pipeline)
        waited = time.monotonic() - started

    # One login found the lock; the poller and client waited it out (no login in between,
    # however short the retry policy) and the next login was let in.
    seen = sim.counters_for(link.account.email)
    assert (seen["logins"], seen["locked_answers"], seen["tickets_issued"]) == (2, 1, 1)
    assert poller.status[link.link_id].retries == 1
    assert waited >= lockout.lockout_ms / 1000
    raw = TopicNames(pipeline.prefix).raw("librelinkup")
    assert await records_in(pipeline.bootstrap, raw) == 1

"""Delivery at clinic scale on the real broker: one sink group for a hundred sites.

Three ``nightstream sink`` processes share 100 Nightscout sites (all hosted by one test server)
and 60 streams; 40 streams go to two sites each, one site reads two streams. While they deliver,
the instances are SIGKILLed and started again, a second wave brings new readings and corrected
versions of old ones, and one site answers nothing but errors: it is parked and the others
complete without it. Then it heals and catches up, and a site added later (a new link on an
existing stream) receives that stream's whole history. Every site ends with exactly the latest
version of each document of its streams, and nothing else.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nightstream.config import load_settings
from nightstream.roles import build_delivery_role
from nightstream.schemas.documents import NsRecord
from nightstream.schemas.stream_partitions import stream_partition
from nightstream.simulators.nightscout import Faults
from nightstream.simulators.nightscout.sites import HostedSite, MultiSiteTestServer
from nightstream.sinks.nightscout.delivery import delivery_sink
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.integration.topic_records import bind_streams, produce_documents, sgv_entry

pytestmark = pytest.mark.kafka

SITES = 100
STREAMS = 60
FIRST_WAVE = 20
SECOND_WAVE = 8
CORRECTED = 4
DEAD = "site-007"
LATE = "site-late"
LATE_STREAM = 3
START_MS = 1_790_000_000_000
FIVE_MINUTES = 300_000
UPLOADER = ["api:*:read", "api:*:create", "api:*:update"]


def _stream(n: int) -> str:
    return f"nightstream://dexcomshare/{n:012x}"


def _streams_of(site: int) -> list[int]:
    streams = [site % STREAMS]
    if site == 5:
        streams.append(STREAMS - 1)
    return streams


def _readings(stream: int, first: int, count: int, version: int) -> list[NsRecord]:
    return [
        sgv_entry(_stream(stream), START_MS + n * FIVE_MINUTES, 100 + (n + stream) % 80).at_version(
            version
        )
        for n in range(first, first + count)
    ]


def _corrections(stream: int, rng: random.Random, version: int) -> list[NsRecord]:
    corrected = []
    for n in rng.sample(range(FIRST_WAVE), CORRECTED):
        record = sgv_entry(_stream(stream), START_MS + n * FIVE_MINUTES, 300 + n)
        corrected.append(record.at_version(version))
    return corrected


@pytest.fixture
async def sites() -> AsyncIterator[MultiSiteTestServer]:
    async with MultiSiteTestServer() as server:
        for n in range(SITES):
            server.add_site(f"site-{n:03d}", api_secret=f"secret-{n:03d}-long-enough")
        yield server


def _configure(pipeline: Pipeline, server: MultiSiteTestServer, late: bool) -> None:
    targets = {}
    links = []
    for name, site in server.sites.items():
        targets[name] = (site.url, site.create_access_token("sink", permissions=UPLOADER))
    for n in range(SITES):
        for stream in _streams_of(n):
            links.append(_link(f"link-{n:03d}-{stream}", f"site-{n:03d}"))
    if late:
        links.append(_link("link-late", LATE))
    else:
        targets.pop(LATE, None)
    pipeline.write_config(
        targets,
        links,
        target_options={"park_after_seconds": "3", "max_retry_delay_seconds": "1"},
    )


def _link(link_id: str, site: str) -> LinkSpec:
    return LinkSpec(link_id, "u", "pw", "us", "http://127.0.0.1:9", targets=(site,))


def _bindings() -> dict[str, str]:
    bound = {
        f"link-{n:03d}-{stream}": _stream(stream) for n in range(SITES) for stream in _streams_of(n)
    }
    bound["link-late"] = _stream(LATE_STREAM)
    return bound


def _expected(records: list[NsRecord], streams: list[int]) -> dict[str, int]:
    """identifier -> sgv of the latest version, for the documents of ``streams``."""
    wanted = {_stream(s) for s in streams}
    latest: dict[str, NsRecord] = {}
    for record in records:
        if record.stream in wanted:
            known = latest.get(record.identifier)
            if known is None or (known.version or 0) <= (record.version or 0):
                latest[record.identifier] = record
    return {identifier: int(r.document["sgv"]) for identifier, r in latest.items()}


def _held(site: HostedSite) -> dict[str, int]:
    docs = site.store.documents("entries")
    held = {str(d["identifier"]): int(d["sgv"]) for d in docs}
    assert len(held) == len(docs), f"{site.name}: two documents for one identifier"
    return held


async def test_one_group_serves_a_hundred_sites_exactly_once_through_kills_a_dead_site_and_a_late_one(  # noqa: E501
    kafka_bootstrap: str, tmp_path: Path, sites: MultiSiteTestServer
) -> None:
    rng = random.Random(13)
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    _configure(pipeline, sites, late=False)
    await pipeline.create_topics()
    await bind_streams(kafka_bootstrap, pipeline.prefix, _bindings())
    records = [r for s in range(STREAMS) for r in _readings(s, 0, FIRST_WAVE, START_MS)]
    await produce_documents(kafka_bootstrap, pipeline.prefix, records)
    sites.site(DEAD).faults = Faults(error_rate=1.0, error_statuses=(503,))

    def expected(n: int) -> dict[str, int]:
        return _expected(records, _streams_of(n))

    async def all_but_dead_hold_theirs() -> bool:
        return all(
            _held(sites.site(f"site-{n:03d}")) == expected(n)
            for n in range(SITES)
            if f"site-{n:03d}" != DEAD
        )

    instances = ("sink-a", "sink-b", "sink-c")
    try:
        for name in instances:
            pipeline.start(name, "sink")
        # Kills while the first wave is delivered, then the second wave (new readings and
        # corrected versions) while the kills go on.
        for round_ in range(4):
            await asyncio.sleep(rng.uniform(1.5, 4.0))
            victim = rng.choice(instances)
            pipeline.kill(victim)
            if round_ == 1:
                wave = [
                    r
                    for s in range(STREAMS)
                    for r in _readings(s, FIRST_WAVE, SECOND_WAVE, START_MS + 1)
                    + _corrections(s, rng, START_MS + 2)
                ]
                records += wave
                await produce_documents(kafka_bootstrap, pipeline.prefix, wave)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            pipeline.start(victim, "sink")
        await wait_until(
            all_but_dead_hold_theirs, within=180, what="every live site to hold its streams"
        )
        dead = sites.site(DEAD)
        assert _held(dead) == {}, "the dead site cannot hold anything"
        assert dead.stats.count() > 0, "the dead site was never tried"

        await wait_until(
            lambda: _async(bool(_parked(pipeline))), within=60, what="the dead site to be parked"
        )
        # It heals: a catch-up brings everything it missed, once.
        dead.faults = Faults()
        await wait_until(
            lambda: _async(_held(dead) == expected(7)), within=120, what="the dead site to heal"
        )

        # A site added later, with a link on a stream whose documents went by long ago.
        sites.add_site(LATE, api_secret="secret-late-long-enough")
        _configure(pipeline, sites, late=True)
        for name in instances:
            pipeline.kill(name)
            pipeline.start(name, "sink")
        late_expected = _expected(records, [LATE_STREAM])
        await wait_until(
            lambda: _async(_held(sites.site(LATE)) == late_expected),
            within=120,
            what="the late site to receive its stream's history",
        )
    finally:
        pipeline.stop_all()

    for n in range(SITES):
        assert _held(sites.site(f"site-{n:03d}")) == expected(n), n
    assert _held(sites.site(LATE)) == late_expected
    for name, log in pipeline.logs():
        assert "Traceback" not in log, f"{name}:\n{log[-3000:]}"
    parked = _parked(pipeline)
    assert parked, "the dead site was never parked"
    assert all(f"target {DEAD}:" in line for line in parked), parked


def _parked(pipeline: Pipeline) -> list[str]:
    """The sinks' lines saying a site was parked."""
    return [
        line for _, log in pipeline.logs() for line in log.splitlines() if "trying again in" in line
    ]


async def _async(value: bool) -> bool:
    return value


async def test_a_sink_whose_sites_all_refuse_it_exits_non_zero_with_one_line_each(
    kafka_bootstrap: str, tmp_path: Path, sites: MultiSiteTestServer
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    names = ("site-000", "site-001")
    targets = {name: (sites.site(name).url, f"unknown-{name}-0123456789") for name in names}
    links = [_link(f"link-{n}", name) for n, name in enumerate(names)]
    pipeline.write_config(targets, links)
    await pipeline.create_topics()
    await bind_streams(
        kafka_bootstrap, pipeline.prefix, {"link-0": _stream(0), "link-1": _stream(1)}
    )
    await produce_documents(
        kafka_bootstrap,
        pipeline.prefix,
        _readings(0, 0, 3, START_MS) + _readings(1, 0, 3, START_MS),
    )
    process = pipeline.start("sink", "sink")
    try:
        await wait_until(
            lambda: _async(process.poll() is not None), within=90, what="the sink to give up"
        )
    finally:
        pipeline.stop_all()
    log = pipeline.log("sink")
    assert process.returncode == 2, log[-3000:]
    for name in names:
        assert log.count(f"target {name} stopped:") == 1, log[-3000:]
    assert "every site stopped" in log
    assert "Traceback" not in log


async def test_a_slow_site_is_shed_and_does_not_hold_back_a_site_of_the_same_partition(
    kafka_bootstrap: str,
    tmp_path: Path,
    sites: MultiSiteTestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small window and a short patience, so that a few hundred documents show it.
    monkeypatch.setattr(delivery_sink, "LIVE_WINDOW", 100)
    monkeypatch.setattr(delivery_sink, "SHED_AFTER_SECONDS", 1.0)
    slow_stream, fast_stream = _two_streams_of_one_partition(partitions=3)
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    slow, fast = sites.site("site-000"), sites.site("site-001")
    targets = {
        name: (site.url, site.create_access_token("sink", permissions=UPLOADER))
        for name, site in (("site-000", slow), ("site-001", fast))
    }
    pipeline.write_config(targets, [_link("slow", "site-000"), _link("fast", "site-001")])
    await pipeline.create_topics()
    await bind_streams(
        kafka_bootstrap,
        pipeline.prefix,
        {"slow": _stream(slow_stream), "fast": _stream(fast_stream)},
    )
    # The slow site's documents fill the partition's window (each write takes 0.2 s); the fast
    # site's come after them, once the live readers have paused the partition.
    slow_records = _readings(slow_stream, 0, 400, START_MS)
    fast_records = _readings(fast_stream, 0, 100, START_MS)
    slow.faults = Faults(hang_rate=1.0, hang_seconds=0.2, after_write_rate=1.0, methods=("PUT",))
    await produce_documents(kafka_bootstrap, pipeline.prefix, slow_records)

    settings = load_settings({}, pipeline.config)
    stop = asyncio.Event()
    run = asyncio.create_task(build_delivery_role(settings, ["site-000", "site-001"])(stop))
    try:
        await wait_until(
            lambda: _async(len(_held(slow)) > 0), within=60, what="the slow site's first writes"
        )
        await produce_documents(kafka_bootstrap, pipeline.prefix, fast_records)
        await wait_until(
            lambda: _async(_held(fast) == _expected(fast_records, [fast_stream])),
            within=60,
            what="the fast site to hold its stream",
        )
        # Without shedding, the partition would stay paused until the slow site had written
        # all but the last 100 of its 400 documents.
        assert len(_held(slow)) < 250, len(_held(slow))
        slow.faults = Faults()
        await wait_until(
            lambda: _async(_held(slow) == _expected(slow_records, [slow_stream])),
            within=120,
            what="the slow site to catch up",
        )
    finally:
        stop.set()
        await run
    assert _held(fast) == _expected(fast_records, [fast_stream])


def _two_streams_of_one_partition(partitions: int) -> tuple[int, int]:
    first = stream_partition(_stream(0), partitions)
    other = next(n for n in range(1, 100) if stream_partition(_stream(n), partitions) == first)
    return 0, other

"""Routing by stream on the real broker, through the real processor and sink processes.

A stream is the vendor-side source (a Dexcom account, a LibreLinkUp patient); a link reads one
stream for some targets. Every site must hold exactly the documents of the streams its links
read, each once, whichever link brought them and in whatever order links first polled; a target
no link names is refused; a removed link stops its stream's delivery to its targets.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from nightstream.kafka_offsets import group_lag, sink_backlog
from nightstream.schemas.identity import (
    device_name,
    entry_identifier,
    nightscout_identifier,
    stream_digest,
)
from nightstream.schemas.topics import TopicNames
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator, generate_accounts
from nightstream.simulators.librelinkup import LluAccount, LluSimulator, SimOptions, SimPatient
from nightstream.simulators.librelinkup.accounts import MG_DL
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.sources.librelinkup.hosts import REGION_PLACEHOLDER
from tests.integration.pipeline import LinkSpec, Pipeline, poll_once, wait_until
from tests.timing import scaled

pytestmark = pytest.mark.kafka

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
READINGS_PER_DAY = 288
START_MS = 1_790_000_000_000


@dataclass
class Site:
    name: str
    server: NightscoutTestServer
    token: str

    def entries_by_device(self) -> Counter[str]:
        return Counter(str(d["device"]) for d in self.server.store.documents("entries"))

    def identifiers(self, collection: str) -> Counter[str]:
        docs = self.server.store.documents(collection, include_deleted=True)
        return Counter(str(d["identifier"]) for d in docs)

    def assert_holds_once(self, collection: str, expected: set[str]) -> None:
        held = self.identifiers(collection)
        assert [i for i, n in held.items() if n > 1] == [], f"{self.name}: duplicates"
        assert set(held) == expected, f"{self.name} {collection}: {len(held)} != {len(expected)}"


@asynccontextmanager
async def _sites(*names: str) -> AsyncIterator[dict[str, Site]]:
    async with AsyncExitStack() as stack:
        sites = {}
        for name in names:
            server = NightscoutTestServer(api_secret=os.urandom(12).hex())
            await stack.enter_async_context(server)
            sites[name] = Site(
                name, server, server.create_access_token("sink", permissions=UPLOADER)
            )
        yield sites


def _configure(pipeline: Pipeline, sites: dict[str, Site], links: list[LinkSpec]) -> None:
    named = {target for link in links for target in link.targets}
    targets = {n: (s.server.url, s.token) for n, s in sites.items() if n in named}
    pipeline.write_config(targets, links)


async def _sinks_settled(pipeline: Pipeline, targets: list[str], vendor: str) -> None:
    names = TopicNames(pipeline.prefix)

    async def caught_up() -> bool:
        raw = [names.raw(vendor)]
        if await group_lag(pipeline.bootstrap, f"{pipeline.prefix}-processor", raw) != 0:
            return False
        return await sink_backlog(pipeline.bootstrap, pipeline.prefix) == 0

    await wait_until(caught_up, within=120, what="processor and sinks to catch up", interval=1)


def _dexcom_link(link_id: str, sim: ShareSimulator, account: int, *targets: str) -> LinkSpec:
    a = sim.accounts[account]
    return LinkSpec(
        link_id, a.username, a.password, a.region, sim.base_url(a.region), targets=targets
    )


def _dexcom_stream(sim: ShareSimulator, account: int) -> str:
    return device_name("dexcomshare", stream_digest(sim.accounts[account].account_id))


def _readings(
    sim: ShareSimulator, account: int, hours: int = 24, end_ms: int = START_MS
) -> set[str]:
    """Identifiers of the simulator's readings of ``account`` in the window ending at ``end_ms``."""
    a = sim.accounts[account]
    trace = sim.service.trace(a.username)
    window_ms = hours * 3_600_000
    readings = trace.readings(end_ms, minutes=hours * 60, max_count=10_000, history_ms=window_ms)
    stream = _dexcom_stream(sim, account)
    return {entry_identifier(stream, r.time_ms, "sgv") for r in readings}


async def test_two_links_on_one_dexcom_account_fill_home_and_clinic_and_a_removed_link_stops(
    pipeline: Pipeline,
) -> None:
    clock = ManualClock(START_MS)
    async with (
        ShareSimulator(generate_accounts(2, seed=21), seed=21, clock=clock) as sim,
        _sites("home", "clinic", "bob") as sites,
    ):
        alice, bob = _dexcom_stream(sim, 0), _dexcom_stream(sim, 1)
        links = [
            _dexcom_link("alice-home", sim, 0, "home"),
            _dexcom_link("alice-clinic", sim, 0, "clinic"),
            _dexcom_link("bob", sim, 1, "clinic", "bob"),
        ]
        _configure(pipeline, sites, links)
        await pipeline.create_topics()
        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")

        # alice-home brings Alice's readings first; the clinic's link on the same account polls
        # only later, when the processor's change filter has nothing new to publish for it.
        await poll_once(pipeline, clock, ["alice-home", "bob"])

        async def first_polls_landed() -> bool:
            home, clinic = sites["home"].entries_by_device(), sites["clinic"].entries_by_device()
            return home[alice] == READINGS_PER_DAY and clinic[bob] == READINGS_PER_DAY

        await wait_until(first_polls_landed, within=120, what="alice-home's and bob's readings")
        await _sinks_settled(pipeline, ["home", "clinic", "bob"], "dexcomshare")
        assert sites["clinic"].entries_by_device()[alice] == 0, "alice-clinic has not polled yet"

        await poll_once(pipeline, clock, ["alice-clinic"])

        async def clinic_has_alice() -> bool:
            return sites["clinic"].entries_by_device()[alice] == READINGS_PER_DAY

        await wait_until(clinic_has_alice, within=120, what="Alice's history at the clinic")
        await _sinks_settled(pipeline, ["home", "clinic", "bob"], "dexcomshare")
        sites["home"].assert_holds_once("entries", _readings(sim, 0))
        sites["clinic"].assert_holds_once("entries", _readings(sim, 0) | _readings(sim, 1))
        sites["bob"].assert_holds_once("entries", _readings(sim, 1))
        clinic_puts = sites["clinic"].server.stats.count(method="PUT")
        assert clinic_puts == 2 * READINGS_PER_DAY, "the clinic got a document twice"

        # alice-clinic is removed; the clinic keeps bob. An hour later, new readings come.
        _configure(pipeline, sites, [links[0], links[2]])
        pipeline.kill("sink")
        pipeline.start("sink", "sink")
        clock.advance(3_600_000)
        await poll_once(pipeline, clock)
        later = clock.now_ms()

        async def hour_landed() -> bool:
            home, bobs = sites["home"].entries_by_device(), sites["bob"].entries_by_device()
            return home[alice] == READINGS_PER_DAY + 12 and bobs[bob] == READINGS_PER_DAY + 12

        await wait_until(hour_landed, within=120, what="the next hour at home and at bob's")
        await _sinks_settled(pipeline, ["home", "clinic", "bob"], "dexcomshare")
        sites["home"].assert_holds_once("entries", _readings(sim, 0, 25, later))
        sites["bob"].assert_holds_once("entries", _readings(sim, 1, 25, later))
        sites["clinic"].assert_holds_once(
            "entries", _readings(sim, 0) | _readings(sim, 1, 25, later)
        )


def _patient(name: str) -> SimPatient:
    patient_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nightstream-routing/{name}"))
    return SimPatient(patient_id, name, units=MG_DL, time_zone="Europe/Berlin")


async def test_two_librelinkup_followers_of_one_patient_fill_both_sites(
    pipeline: Pipeline,
) -> None:
    patient = _patient("Ida")
    followers = (
        LluAccount("mum@example.com", "pw-mum-1", region="eu", patients=(patient,)),
        LluAccount("nurse@example.com", "pw-nurse-2", region="eu", patients=(patient,)),
    )
    clock = ManualClock(START_MS)
    async with (
        LluSimulator(followers, clock=clock, options=SimOptions(seed=4)) as sim,
        _sites("home", "clinic") as sites,
    ):
        url = sim.base_url(REGION_PLACEHOLDER)
        extra = (("patient_id", patient.patient_id), ("llu_version", "4.16.0"))
        links = [
            LinkSpec(f"ida-{site}", f.email, f.password, "eu", url, (site,), "librelinkup", extra)
            for f, site in zip(followers, ("home", "clinic"), strict=True)
        ]
        _configure(pipeline, sites, links)
        await pipeline.create_topics()
        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")
        await poll_once(pipeline, clock, ["ida-home"])
        await poll_once(pipeline, clock, ["ida-clinic"])

        stream = device_name("librelinkup", stream_digest(patient.patient_id))
        feed = sim.service.feed(patient)
        now = clock.now_ms()
        step = sim.service.options.history_step_ms
        readings = [*feed.history(now, step), feed.current(now)]
        entries = {entry_identifier(stream, r.time_ms, "sgv") for r in readings}
        starts = {nightscout_identifier(stream, feed.sensor_start_ms(now), "Sensor Start")}

        async def both_landed() -> bool:
            return all(
                set(site.identifiers("entries")) == entries
                and set(site.identifiers("treatments")) == starts
                for site in sites.values()
            )

        await wait_until(both_landed, within=120, what="Ida's graph at home and at the clinic")
        await _sinks_settled(pipeline, ["home", "clinic"], "librelinkup")
        for site in sites.values():
            site.assert_holds_once("entries", entries)
            site.assert_holds_once("treatments", starts)
            assert site.server.stats.count(method="PUT") == len(entries) + len(starts)


def test_a_target_no_link_names_is_refused_before_anything_runs(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    links = [LinkSpec("alice", "alice", "pw-alice-0", "us", "http://127.0.0.1:9/us", ("home",))]
    pipeline.write_config(
        {"home": ("http://127.0.0.1:9", "t-1"), "stray": ("http://s:9", "t-2")}, links
    )
    done = subprocess.run(
        [sys.executable, "-m", "nightstream.cli", "run", "--config", str(pipeline.config)],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("NIGHTSTREAM_")},
    )
    assert done.returncode == 2, done.stderr
    assert "targets.stray: target 'stray' is named by no link" in done.stderr
    assert "Traceback" not in done.stderr


# --- generated configurations -------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """Links over a few streams (shared or not) to a few targets (shared or not)."""

    accounts: int
    links: list[tuple[str, int, tuple[str, ...]]]
    """(link id, account index, targets)."""
    poll_order: list[list[str]]

    def streams_of(self, target: str) -> set[int]:
        return {account for _, account, targets in self.links if target in targets}


def _generate(seed: int) -> Generated:
    rng = random.Random(seed)
    accounts = rng.randint(2, 4)
    targets = [f"site{n}" for n in range(rng.randint(2, 4))]
    links: list[tuple[str, int, tuple[str, ...]]] = []
    for n in range(rng.randint(accounts, accounts + 3)):
        account = n if n < accounts else rng.randrange(accounts)  # extra links share a stream
        chosen = tuple(sorted(rng.sample(targets, rng.randint(1, len(targets)))))
        links.append((f"link{n}", account, chosen))
    for target in targets:  # every target is named (config check refuses the rest)
        if not any(target in t for _, _, t in links):
            link_id, account, chosen = links[rng.randrange(len(links))]
            links = [(i, a, (*t, target) if i == link_id else t) for i, a, t in links]
    ids = [link_id for link_id, _, _ in links]
    rng.shuffle(ids)
    cut = rng.randint(1, len(ids))
    return Generated(accounts, links, [ids[:cut], ids[cut:]] if cut < len(ids) else [ids])


@pytest.mark.parametrize("seed", [3, 8, 13])
async def test_generated_configurations_route_each_stream_to_exactly_its_sites(
    pipeline: Pipeline, seed: int
) -> None:
    generated = _generate(seed)
    targets = sorted({t for _, _, chosen in generated.links for t in chosen})
    clock = ManualClock(START_MS)
    accounts = generate_accounts(generated.accounts, seed=seed)
    async with (
        ShareSimulator(accounts, seed=seed, clock=clock) as sim,
        _sites(*targets) as sites,
    ):
        links = [_dexcom_link(i, sim, a, *chosen) for i, a, chosen in generated.links]
        _configure(pipeline, sites, links)
        await pipeline.create_topics()
        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")
        for batch in generated.poll_order:
            await poll_once(pipeline, clock, batch)
        expected = {
            t: set().union(*(_readings(sim, a) for a in generated.streams_of(t))) for t in targets
        }

        async def all_landed() -> bool:
            return all(set(sites[t].identifiers("entries")) == expected[t] for t in targets)

        await wait_until(all_landed, within=150, what=f"every site's streams ({generated})")
        await _sinks_settled(pipeline, targets, "dexcomshare")
        for target in targets:
            sites[target].assert_holds_once("entries", expected[target])
            puts = sites[target].server.stats.count(method="PUT")
            assert puts == len(expected[target]), f"{target} got a document twice"


def test_generated_configurations_share_streams_and_targets() -> None:
    """The generator covers what the property is about: shared streams and shared targets."""
    shapes = [_generate(seed) for seed in (3, 8, 13)]
    assert any(len({a for _, a, _ in g.links}) < len(g.links) for g in shapes)
    assert any(any(len(t) > 1 for _, _, t in g.links) for g in shapes)
    assert any(len(g.poll_order) > 1 for g in shapes)

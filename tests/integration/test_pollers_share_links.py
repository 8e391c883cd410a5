"""Poller instances sharing 300 links of the links topic, on the real broker, as processes.

Three ``nightstream poll --instance-id`` processes, the processor and the sink run against the
Dexcom Share simulator (in this process, on the wall clock) and a multi-site Nightscout test
server. 300 links are added to the links topic once the three pollers are in their group; one
poller is then killed (SIGKILL) and later a fourth starts. What must hold, from the simulator's
own request log and the sites' contents:

- every link is read by one instance at a time: each vendor session (one login by one instance)
  reads its account in an interval that does not overlap another session's of that account;
- one login per ownership: a link has one session more for each move of its partition (the
  killed instance's, then the ones the fourth instance takes) and none else, no failed login;
- nothing missed, nothing duplicated: every reading served up to shortly before the pollers
  stop is in its link's site, every document was written once.
"""

from __future__ import annotations

import itertools
import math
import re
import signal
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from nightstream.config import LinkSettings, load_settings
from nightstream.kafka_offsets import group_lag
from nightstream.link_records import record_of
from nightstream.link_store import LinkStore
from nightstream.schemas.identity import device_name, entry_identifier, stream_digest
from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.dexcomshare.accounts import SimAccount
from nightstream.simulators.nightscout.sites import HostedSite, MultiSiteTestServer
from nightstream.sources.dexcomshare.poll_source import PUBLISH_DELAY_MS, SPREAD_MS
from nightstream.sources.link_credentials import KEY_ENV, LinkKeyring, new_key
from nightstream.topics_admin import ensure_topics
from tests.integration.cli_runs import CliRun
from tests.integration.pipeline import wait_until
from tests.integration.topic_records import read_topic, topics_with_prefix
from tests.kafka_broker import unique_name

pytestmark = pytest.mark.kafka

LINKS = 300
SITES = ("north", "south", "west")
PARTITIONS = 6
HISTORY_MS = 2 * 3_600_000
"""The simulator serves two hours of history: 24 readings per link's first window."""
UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
_ASSIGNED = re.compile(r"links partitions \[([\d, ]*)\] assigned")


@dataclass
class Run:
    workdir: Path
    config: Path
    prefix: str
    bootstrap: str
    key: str
    roles: dict[str, CliRun]

    def start(self, name: str, *args: str) -> None:
        command = [*args, "--config", str(self.config)]
        self.roles[name] = CliRun.start(self.workdir, name, command, {KEY_ENV: self.key})

    def assignment(self, name: str) -> set[int] | None:
        """The partitions the poller ``name`` logged last, None before its first assignment."""
        found = _ASSIGNED.findall(self.roles[name].stderr())
        return None if not found else {int(p) for p in found[-1].split(",") if p.strip()}


@pytest.fixture
async def sites() -> AsyncIterator[tuple[MultiSiteTestServer, dict[str, HostedSite]]]:
    server = MultiSiteTestServer()
    await server.start()
    try:
        yield server, {name: server.add_site(name, f"secret-{name}-0123") for name in SITES}
    finally:
        await server.stop()


def _write_config(run: Run, sites: dict[str, HostedSite]) -> None:
    lines = [
        'log_level = "INFO"',
        "[kafka]",
        f'bootstrap_servers = "{run.bootstrap}"',
        f'topic_prefix = "{run.prefix}"',
        f"partitions = {PARTITIONS}",
    ]
    for name, site in sites.items():
        token = site.create_access_token("sink", permissions=UPLOADER)
        lines += [f"[targets.{name}]", f'url = "{site.url}"', f'token = "{token}"']
        lines.append("run_time_links = true")
    run.config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _link(n: int, account: SimAccount, sim: ShareSimulator) -> LinkSettings:
    return LinkSettings.model_validate(
        {
            "id": f"link-{n:03d}",
            "vendor": "dexcomshare",
            "username": account.username,
            "password": account.password,
            "region": account.region,
            "server_url": sim.base_url(account.region),
            "targets": [SITES[n % len(SITES)]],
        }
    )


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    async def check() -> bool:
        return condition()

    await wait_until(check, within=within, what=what, interval=0.25)


def _settled(run: Run, pollers: list[str]) -> Callable[[], bool]:
    """Every poller in ``pollers`` logged an assignment and together they hold each partition
    once: the group's last rebalance is done."""

    def check() -> bool:
        held = [run.assignment(name) for name in pollers]
        if any(h is None for h in held):
            return False
        counted = Counter(p for h in held if h is not None for p in h)
        return sorted(counted) == list(range(PARTITIONS)) and max(counted.values()) == 1

    return check


@dataclass(frozen=True)
class Session:
    session_id: str
    first_ms: int
    last_ms: int
    first_minutes: int
    """The window its first read asked for (1440, the most, without a cursor)."""


def _sessions(sim: ShareSimulator) -> dict[str, list[Session]]:
    """Per account, the sessions that read it (each one login of one instance), oldest first."""
    reads: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for read in sim.service.read_log:
        assert read.account_key is not None, read
        assert read.session_param is not None, read
        reads[(read.account_key, read.session_param)].append((read.at_ms, int(read.minutes or 0)))
    out: dict[str, list[Session]] = defaultdict(list)
    for (account, session), seen in reads.items():
        out[account].append(Session(session, min(seen)[0], max(seen)[0], min(seen)[1]))
    return {account: sorted(s, key=lambda x: x.first_ms) for account, s in out.items()}


def _stream(account: SimAccount) -> str:
    return device_name("dexcomshare", stream_digest(account.account_id))


def _readings(sim: ShareSimulator, account: SimAccount, after_ms: int, until_ms: int) -> set[str]:
    """Identifiers of ``account``'s readings in (after_ms, until_ms] (the minute rounded down)."""
    minutes = math.floor((until_ms - after_ms) / 60_000)
    trace = sim.service.trace(account.username)
    found = trace.readings(until_ms, minutes=minutes, max_count=10_000, history_ms=10**12)
    return {entry_identifier(_stream(account), r.time_ms, "sgv") for r in found}


async def _partitions_of_links(bootstrap: str, topic: str) -> dict[str, int]:
    return {r.key.decode(): r.partition for r in await read_topic(bootstrap, topic) if r.key}


async def test_pollers_share_300_links_one_instance_at_a_time_through_a_kill_and_a_join(
    kafka_bootstrap: str,
    tmp_path: Path,
    sites: tuple[MultiSiteTestServer, dict[str, HostedSite]],
) -> None:
    _server, hosted = sites
    run = Run(tmp_path, tmp_path / "nightstream.toml", unique_name("share"), kafka_bootstrap,
              new_key(), {})  # fmt: skip
    _write_config(run, hosted)
    settings = load_settings({}, run.config)
    names = TopicNames(run.prefix)
    catalog = topic_catalog(run.prefix, partitions=PARTITIONS)
    await ensure_topics(kafka_bootstrap, catalog)

    async def topics_visible() -> bool:  # roles refuse to start over a topic not yet listed
        listed = set(await topics_with_prefix(kafka_bootstrap, run.prefix))
        return {spec.name for spec in catalog} <= listed

    await wait_until(topics_visible, within=30, what="the new topics")
    accounts = generate_accounts(LINKS, seed=16)
    async with ShareSimulator(accounts, seed=16, history_ms=HISTORY_MS) as sim:
        links = [_link(n, account, sim) for n, account in enumerate(sim.accounts)]
        by_link = dict(zip((link.id for link in links), sim.accounts, strict=True))
        try:
            run.start("processor", "process")
            run.start("sink", "sink")
            pollers = ["p0", "p1", "p2"]
            for name in pollers:
                run.start(name, "poll", "--instance-id", name)
            await _until(_settled(run, pollers), 60, "three pollers sharing the partitions")

            keyring = LinkKeyring([run.key])
            store = LinkStore(settings.kafka, None)
            await store.put([record_of(link, keyring, sim.clock.now_ms(), paused=False)
                             for link in links])  # fmt: skip
            partition_of = await _partitions_of_links(kafka_bootstrap, names.links)
            read_by_all = _read_by_all(sim, by_link, 1)
            await _until(read_by_all, 60, "every link's first read")

            # The crash: p1 dies mid-run; its links must move, each to one instance.
            killed = run.assignment("p1") or set()
            assert killed, "p1 held no partition"
            run.roles["p1"].process.send_signal(signal.SIGKILL)
            pollers.remove("p1")
            moved_by_kill = {i for i, p in partition_of.items() if p in killed}
            await _until(_settled(run, pollers), 90, "p0 and p2 taking p1's partitions")
            await _until(_read_again(sim, by_link, moved_by_kill), 60, "p1's links read again")

            # A fourth instance joins: it takes some partitions, handed off by their holders.
            before_join = _sessions(sim)
            run.start("p3", "poll", "--instance-id", "p3")
            pollers.append("p3")
            await _until(_settled(run, pollers), 60, "p3 taking its share")
            taken = run.assignment("p3") or set()
            assert taken, "p3 got no partition"
            moved_by_join = {i for i, p in partition_of.items() if p in taken}
            await _until(
                _read_again(sim, by_link, moved_by_join, before_join), 60, "p3's first reads"
            )
            # A while longer, so that later readings are polled by their new owners too.
            await _until(_time_passed(sim, 25_000), 60, "more polls")

            for name in pollers:
                run.roles[name].signal(signal.SIGTERM)
            for name in pollers:
                assert await run.roles[name].wait(60) == 0, run.roles[name].stderr()[-3000:]
            stopped_ms = sim.clock.now_ms()
            sessions = _sessions(sim)
            raw = [names.raw("dexcomshare")]
            processor_group = f"{run.prefix}-processor"

            async def processed() -> bool:
                return await group_lag(kafka_bootstrap, processor_group, raw) == 0

            await wait_until(processed, within=120, what="the processor to catch up")
            expected, possible = _expected(sim, links, by_link, sessions, stopped_ms)
            await wait_until(_landed(hosted, expected), within=120, what="every reading landed")
            await wait_until(_writes_quiet(hosted), within=30, what="the sink to go quiet")
        finally:
            for role in run.roles.values():
                role.stop()

        _assert_one_instance_at_a_time(sim, by_link, sessions, moved_by_kill, moved_by_join)
        for name, site in hosted.items():
            held = Counter(str(d["identifier"]) for d in site.store.documents("entries"))
            assert [i for i, n in held.items() if n > 1] == [], f"{name}: duplicate documents"
            assert set(held) >= expected[name], f"{name}: readings missing"
            assert set(held) <= possible[name], f"{name}: documents of other links"
            assert site.stats.count(method="PUT") == len(held), f"{name}: a document written twice"


def _read_by_all(
    sim: ShareSimulator, by_link: dict[str, SimAccount], times: int
) -> Callable[[], bool]:
    def check() -> bool:
        sessions = _sessions(sim)
        return all(len(sessions.get(a.key, [])) >= times for a in by_link.values())

    return check


def _read_again(
    sim: ShareSimulator,
    by_link: dict[str, SimAccount],
    link_ids: set[str],
    before: dict[str, list[Session]] | None = None,
) -> Callable[[], bool]:
    """Every link of ``link_ids`` read by a session it did not have ``before`` (default: by a
    second session)."""

    def check() -> bool:
        sessions = _sessions(sim)
        for link_id in link_ids:
            key = by_link[link_id].key
            known = len((before or {}).get(key, [])) or 1
            if len(sessions.get(key, [])) <= known:
                return False
        return True

    return check


def _time_passed(sim: ShareSimulator, ms: int) -> Callable[[], bool]:
    since = sim.clock.now_ms()
    return lambda: sim.clock.now_ms() - since >= ms


def _expected(
    sim: ShareSimulator,
    links: list[LinkSettings],
    by_link: dict[str, SimAccount],
    sessions: dict[str, list[Session]],
    stopped_ms: int,
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per site: the readings that must be there (served by a first read, or published early
    enough before the stop to have been polled) and those that may be."""
    settled_ms = stopped_ms - PUBLISH_DELAY_MS - SPREAD_MS - 20_000
    must: dict[str, set[str]] = defaultdict(set)
    may: dict[str, set[str]] = defaultdict(set)
    for link in links:
        account = by_link[link.id]
        first_ms = sessions[account.key][0].first_ms
        site = link.targets[0]
        must[site] |= _readings(sim, account, first_ms - HISTORY_MS + 60_000, settled_ms)
        may[site] |= _readings(sim, account, first_ms - HISTORY_MS - 60_000, stopped_ms)
    return must, may


def _landed(hosted: dict[str, HostedSite], expected: dict[str, set[str]]) -> Callable[
    [], Awaitable[bool]
]:  # fmt: skip
    async def check() -> bool:
        return all(
            {str(d["identifier"]) for d in site.store.documents("entries")} >= expected[name]
            for name, site in hosted.items()
        )

    return check


def _writes_quiet(hosted: dict[str, HostedSite]) -> Callable[[], Awaitable[bool]]:
    """True once no write came since the previous check (checks are half a second apart)."""
    last: list[int] = []

    async def check() -> bool:
        writes = sum(site.stats.count(method="PUT") for site in hosted.values())
        quiet = bool(last) and last[-1] == writes
        last.append(writes)
        return quiet

    return check


def _assert_one_instance_at_a_time(
    sim: ShareSimulator,
    by_link: dict[str, SimAccount],
    sessions: dict[str, list[Session]],
    moved_by_kill: set[str],
    moved_by_join: set[str],
) -> None:
    for link_id, account in by_link.items():
        held = sessions[account.key]
        for earlier, later in itertools.pairwise(held):
            assert earlier.last_ms < later.first_ms, f"{link_id}: two instances read at once"
            # The new owner goes on from the cursor the previous one saved.
            assert later.first_minutes < 1440, f"{link_id}: read from scratch after a move"
        moves = (link_id in moved_by_kill) + (link_id in moved_by_join)
        assert len(held) == 1 + moves, f"{link_id}: {len(held)} sessions for {moves} move(s)"
        counters = sim.counters_for(account.username)
        assert counters.failed_logins == 0, link_id
        logins = (counters.authenticate_calls, counters.login_by_id_calls)
        assert logins == (len(held), len(held)), f"{link_id}: logins {logins}, {len(held)} used"

"""Replay into a new Nightscout and reprocess after a fix, on the real broker.

30 simulated days of one Dexcom patient (plus two days of another patient, whose documents a
replay of the first must leave out) go through the poller and ``nightstream process``. Then
``nightstream replay`` runs as a subprocess into empty Nightscout test servers, and
``nightstream reprocess`` re-runs the transforms, once unchanged and once with a changed one.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nightstream.config import load_settings
from nightstream.kafka_offsets import group_lag, records_in
from nightstream.reprocess import reprocess
from nightstream.schemas.documents import Collection, NsRecord
from nightstream.schemas.records import RawPayload
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.sinks.nightscout.date_window import format_utc
from nightstream.sinks.nightscout.delivery.lane import WRITE_CHUNK
from nightstream.streams.registry import TRANSFORMS
from nightstream.streams.transform import TransformOutput
from tests.integration.cli_runs import CliRun
from tests.integration.history import DAY_MS, PATIENT, READINGS_PER_DAY, History, build_history
from tests.integration.pipeline import Pipeline, wait_until

pytestmark = pytest.mark.kafka

DAYS = 30
OTHER_DAYS = 2
UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
TOKEN_ENV = "NIGHTSTREAM_REPLAY_TOKEN"
# An interrupted or killed replay repeats at most the chunk Nightscout had not answered:
# one for the Ctrl-C, one for the kill.
REPEATED_AT_MOST = 2 * WRITE_CHUNK

Site = tuple[NightscoutTestServer, str]


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
async def new_site() -> AsyncIterator[Callable[[], Awaitable[Site]]]:
    """Empty Nightscout test servers, each with an uploader's access token."""
    started: list[NightscoutTestServer] = []

    async def start() -> Site:
        server = NightscoutTestServer(api_secret=os.urandom(12).hex())
        await server.start()
        started.append(server)
        return server, server.create_access_token("replay", permissions=UPLOADER)

    yield start
    for server in started:
        await server.stop()


def _replay(pipeline: Pipeline, url: str, *extra: str) -> list[str]:
    return ["replay", "--config", str(pipeline.config), "--link", PATIENT, "--to", url, *extra]


def _report_value(report: str, label: str) -> str:
    """The first word after ``label`` in a report line (``  written   8640 (entries 8640)``)."""
    for line in report.splitlines():
        if line.startswith(f"  {label} "):
            return line[len(label) + 2 :].split()[0]
    raise AssertionError(f"no {label!r} line in:\n{report}")


def _entries(server: NightscoutTestServer) -> list[dict[str, Any]]:
    return server.store.documents("entries", include_deleted=True)


def _assert_each_document_once(server: NightscoutTestServer, history: History) -> None:
    docs = _entries(server)
    identifiers = Counter(d["identifier"] for d in docs)
    assert [i for i, n in identifiers.items() if n > 1] == []
    readings = Counter((d["device"], d["date"]) for d in docs)
    assert [r for r, n in readings.items() if n > 1] == []
    assert len(docs) == history.readings
    assert {d["device"] for d in docs} == {history.device}


def _holds(server: NightscoutTestServer, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return server.store.count("entries") >= count

    return check


async def test_replay_fills_an_empty_site_once_across_interruptions_and_keeps_to_a_window(
    pipeline: Pipeline, new_site: Callable[[], Awaitable[Site]], tmp_path: Path
) -> None:
    site, token = await new_site()
    history = await build_history(pipeline, (site.url, token), days=DAYS, other_days=OTHER_DAYS)
    assert history.readings == DAYS * READINGS_PER_DAY
    env = {TOKEN_ENV: token}
    command = _replay(pipeline, site.url)

    # Ctrl-C: the batch in flight is written and committed, then the replay stops.
    first = CliRun.start(tmp_path, "replay-sigint", command, env)
    await wait_until(_holds(site, 2000), within=90, what="2000 entries", interval=0.05)
    first.signal(signal.SIGINT)
    assert await first.wait() == 130, first.stderr()
    assert "interrupted: run the same command to continue" in first.stdout()
    after_sigint = site.store.count("entries")
    assert after_sigint < history.readings
    written = int(_report_value(first.stdout(), "written"))
    if "in flight at the stop" in first.stdout():
        # The site did not answer within the stop's drain (a busy machine): the chunk in
        # flight may be stored without being counted, never the reverse.
        assert written <= after_sigint <= written + WRITE_CHUNK
    else:
        assert written == after_sigint

    # Killed without warning (token on the command line this time).
    second = CliRun.start(tmp_path, "replay-sigkill", [*command, "--token", token])
    await wait_until(_holds(site, after_sigint + 2000), within=90, what="2000 more entries")
    second.signal(signal.SIGKILL)
    await second.wait()
    assert site.store.count("entries") < history.readings

    third = CliRun.start(tmp_path, "replay-resumed", command, env)
    assert await third.wait() == 0, third.stderr()
    assert "): complete" in third.stdout()
    assert "docs/s" in third.stderr()
    runs = [first, second, third]
    assert [r for r in runs if token in r.stdout() + r.stderr()] == []
    _assert_each_document_once(site, history)
    puts = site.stats.count(method="PUT")
    assert history.readings <= puts <= history.readings + REPEATED_AT_MOST

    # Run again: nothing new in the topics, nothing written.
    again = CliRun.start(tmp_path, "replay-again", command, env)
    assert await again.wait() == 0, again.stderr()
    assert _report_value(again.stdout(), "written") == "0"
    assert site.stats.count(method="PUT") == puts

    # A window into another empty site: exactly the documents dated inside it.
    since = history.first_day_ms + 10 * DAY_MS
    until = since + 5 * DAY_MS // 2
    window = ["--since", format_utc(since), "--until", format_utc(until)]
    window_site, window_token = await new_site()
    window_command = _replay(pipeline, window_site.url, *window)
    windowed = CliRun.start(tmp_path, "replay-window", window_command, {TOKEN_ENV: window_token})
    assert await windowed.wait() == 0, windowed.stderr()
    inside = sorted(d["identifier"] for d in _entries(site) if since <= d["date"] < until)
    assert len(inside) == 5 * READINGS_PER_DAY // 2
    assert sorted(d["identifier"] for d in _entries(window_site)) == inside
    outside = _report_value(windowed.stdout(), "outside the window")
    assert outside == str(history.readings - len(inside))
    assert _report_value(windowed.stdout(), "other streams") == str(history.other_readings)

    # The same window into the first site reads the topics from the start (a consumer group of
    # its own) and writes nothing: the site's acknowledged hashes are shared by its replays.
    rewindow = CliRun.start(tmp_path, "replay-rewindow", _replay(pipeline, site.url, *window), env)
    assert await rewindow.wait() == 0, rewindow.stderr()
    assert _report_value(rewindow.stdout(), "skipped, unchanged") == str(len(inside))
    assert site.stats.count(method="PUT") == puts

    # A token the site refuses: one clear message, a non-zero exit, the token never shown.
    refused = "revoked-0123456789abcdef"
    bad = CliRun.start(tmp_path, "replay-refused", command, {TOKEN_ENV: refused})
    assert await bad.wait() == 2
    assert "does not accept the access token" in bad.stderr()
    assert refused not in bad.stderr() + bad.stdout()

    # The site is the configured target "ns": the replay's answers are that target's, so the
    # running sink, reading the topics from their beginning, writes only the other link's
    # documents (which the replay of PATIENT left out) and none of the replayed ones.
    pipeline.start("sink", "sink")
    ns_topics = [f"{pipeline.prefix}.ns.{c.value}" for c in Collection]
    group = f"{pipeline.prefix}-sink"

    async def sink_done() -> bool:
        return await group_lag(pipeline.bootstrap, group, ns_topics) == 0

    await wait_until(sink_done, within=120, what="the sink's group at the end of the topics")
    pipeline.stop_all()
    assert site.stats.count(method="PUT") == puts + history.other_readings


def _noisy(date: int) -> bool:
    return (date // 300_000) % 10 == 0


def _with_noise(raw: RawPayload) -> TransformOutput:
    """The Dexcom transform after a "fix": every tenth reading now has a noise level."""
    output = TRANSFORMS["dexcomshare"](raw)
    output.records = [
        NsRecord(r.collection, r.stream, {**r.document, "noise": 1})
        if _noisy(int(r.document["date"]))
        else r
        for r in output.records
    ]
    return output


async def test_reprocess_after_a_transform_change_writes_only_the_changed_documents(
    pipeline: Pipeline, new_site: Callable[[], Awaitable[Site]], tmp_path: Path
) -> None:
    site, token = await new_site()
    history = await build_history(pipeline, (site.url, token), days=DAYS, other_days=OTHER_DAYS)
    env = {TOKEN_ENV: token}
    command = _replay(pipeline, site.url)
    full = CliRun.start(tmp_path, "replay-full", command, env)
    assert await full.wait() == 0, full.stderr()
    puts = site.stats.count(method="PUT")
    assert puts == history.readings
    entries_topic = f"{pipeline.prefix}.ns.entries"
    published = await records_in(pipeline.bootstrap, entries_topic)

    # Unchanged transforms under a fresh consumer group: the content hashes are recovered from
    # the table's changelog, so nothing is emitted.
    reprocess_command = ["reprocess", "--config", str(pipeline.config), "--vendor", "dexcomshare"]
    same = CliRun.start(tmp_path, "reprocess-same", [*reprocess_command, "--link", PATIENT])
    assert await same.wait() == 0, same.stderr()
    assert _report_value(same.stdout(), "emitted") == "0"
    assert _report_value(same.stdout(), "unchanged") == str(history.readings)
    assert _report_value(same.stdout(), "other links") == str(OTHER_DAYS)
    assert await records_in(pipeline.bootstrap, entries_topic) == published

    settings = load_settings({}, pipeline.config)
    changed = [d["identifier"] for d in _entries(site) if _noisy(d["date"])]
    assert 0 < len(changed) < history.readings
    fixed = {"dexcomshare": _with_noise}
    report = await reprocess(
        settings.kafka, "dexcomshare", fixed, asyncio.Event(), io.StringIO(), link=PATIENT
    )
    assert report.complete
    assert report.totals.emitted == len(changed)
    assert report.totals.unchanged == history.readings - len(changed)
    assert report.totals.other_links == OTHER_DAYS
    assert await records_in(pipeline.bootstrap, entries_topic) == published + len(changed)

    # The replay continues where it stopped: exactly the changed documents are written.
    resumed = CliRun.start(tmp_path, "replay-resumed", command, env)
    assert await resumed.wait() == 0, resumed.stderr()
    assert site.stats.count(method="PUT") == puts + len(changed)
    assert _report_value(resumed.stdout(), "written") == str(len(changed))
    noisy = sorted(d["identifier"] for d in _entries(site) if d.get("noise") == 1)
    assert noisy == sorted(changed)
    _assert_each_document_once(site, history)

    # The fixed transform once more: its hashes reached the shared changelog, nothing to emit.
    again = await reprocess(
        settings.kafka, "dexcomshare", fixed, asyncio.Event(), io.StringIO(), link=PATIENT
    )
    assert again.totals.emitted == 0
    assert again.totals.unchanged == history.readings

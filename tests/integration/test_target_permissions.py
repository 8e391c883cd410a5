"""A site whose token may not write is found out at start, not at its first write: `sink` and
`run` check every site's permissions as they start (as `replay` does). Such a site stops alone
within seconds with one line naming what it lacks; the others go on; when none is left the role
exits 2. Nothing the role cut off itself is reported as something being retried."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from nightstream.simulators.nightscout.sites import MultiSiteTestServer
from nightstream.sinks.nightscout.answers import WRITE_PERMISSIONS
from tests.integration.cli_runs import CliRun
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.integration.topic_records import bind_streams, produce_documents, sgv_entry
from tests.timing import scaled

pytestmark = pytest.mark.kafka

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
READ_ONLY_ROLES = ["readable"]
"""What a token made with the built-in roles alone gets: ``*:*:read``."""
STOPS_WITHIN = 20.0
"""From the command's start to the site's line (or the exit), on an idle machine."""
START_MS = 1_790_000_000_000
WARNINGS_ENV = {"PYTHONWARNINGS": "error::RuntimeWarning"}


def _stream(n: int) -> str:
    return f"nightstream://dexcomshare/{n:012x}"


def _lacks_line(site: str) -> str:
    lacking = ", ".join(WRITE_PERMISSIONS)
    return f"target {site} stopped: the access token lacks permission {lacking}"


def _nothing_misleading(log: str) -> None:
    assert "Traceback" not in log, log[-3000:]
    assert "retrying" not in log, log[-3000:]
    assert "RuntimeWarning" not in log, log[-3000:]
    assert "never awaited" not in log, log[-3000:]


@pytest.fixture
async def sites() -> AsyncIterator[MultiSiteTestServer]:
    async with MultiSiteTestServer() as server:
        for name in ("good", "readonly", "readonly-2"):
            server.add_site(name, api_secret=f"secret-of-{name}-long-enough")
        yield server


def _link(link_id: str, site: str) -> LinkSpec:
    return LinkSpec(link_id, "u", "pw", "us", "http://127.0.0.1:9", targets=(site,))


async def _sink_until_line(pipeline: Pipeline, line: str) -> float:
    """Start ``sink``; seconds until ``line`` is in its log."""
    started = time.monotonic()
    pipeline.start("sink", "sink")

    async def logged() -> bool:
        return line in pipeline.log("sink")

    await wait_until(logged, within=STOPS_WITHIN, what=line, interval=0.1)
    return time.monotonic() - started


async def _until_exit(tmp_path: Path, role: str, config: Path) -> tuple[int, float, str]:
    """Run ``nightstream <role>`` until it exits by itself: its code, seconds and log."""
    run = CliRun.start(tmp_path, role, [role, "--config", str(config)], WARNINGS_ENV)
    started = time.monotonic()
    try:
        code = await run.wait(within=STOPS_WITHIN)
    finally:
        run.stop()
    return code, time.monotonic() - started, run.stderr() + run.stdout()


async def test_a_read_only_site_stops_alone_at_start_and_the_good_one_receives_its_documents(
    kafka_bootstrap: str, tmp_path: Path, sites: MultiSiteTestServer
) -> None:
    good, readonly = sites.site("good"), sites.site("readonly")
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    pipeline.write_config(
        {
            "good": (good.url, good.create_access_token("sink", permissions=UPLOADER)),
            "readonly": (readonly.url, readonly.create_access_token("sink", roles=READ_ONLY_ROLES)),
        },
        [_link("link-good", "good"), _link("link-ro", "readonly")],
    )
    await pipeline.create_topics()
    await bind_streams(
        kafka_bootstrap, pipeline.prefix, {"link-good": _stream(1), "link-ro": _stream(2)}
    )
    readings = [
        sgv_entry(_stream(stream), START_MS + i * 300_000, 100 + i)
        for stream in (1, 2)
        for i in range(20)
    ]
    await produce_documents(kafka_bootstrap, pipeline.prefix, readings)
    try:
        seconds = await _sink_until_line(pipeline, _lacks_line("readonly"))

        async def good_holds_its_readings() -> bool:
            return len(good.store.documents("entries")) == 20

        await wait_until(good_holds_its_readings, within=60, what="the good site's 20 readings")
        assert pipeline.processes["sink"].poll() is None, pipeline.log("sink")[-3000:]
    finally:
        pipeline.stop_all()
    log = pipeline.log("sink")
    assert seconds < scaled(STOPS_WITHIN)
    assert log.count("target readonly stopped:") == 1, log[-3000:]
    assert "target good stopped" not in log
    assert "target readonly: caught up" not in log  # a stopped site stays where it stopped
    assert readonly.store.documents("entries") == []
    assert readonly.stats.count(method="PUT") == 0  # found out before any write
    _nothing_misleading(log)


async def test_a_sink_whose_sites_are_all_read_only_exits_2_in_seconds(
    kafka_bootstrap: str, tmp_path: Path, sites: MultiSiteTestServer
) -> None:
    names = ("readonly", "readonly-2")
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    tokens = {
        name: sites.site(name).create_access_token("s", roles=READ_ONLY_ROLES) for name in names
    }
    pipeline.write_config(
        {name: (sites.site(name).url, token) for name, token in tokens.items()},
        [_link(f"link-{name}", name) for name in names],
    )
    await pipeline.create_topics()
    # No documents at all: a check at the first write would wait for ever.
    code, seconds, log = await _until_exit(tmp_path, "sink", pipeline.config)
    assert code == 2, log[-3000:]
    assert seconds < scaled(STOPS_WITHIN)
    for name in names:
        assert log.count(_lacks_line(name)) == 1, log[-3000:]
    assert "every site stopped" in log
    _nothing_misleading(log)


async def test_run_with_a_read_only_token_exits_2_in_seconds_naming_the_missing_permissions(
    kafka_bootstrap: str, tmp_path: Path, sites: MultiSiteTestServer
) -> None:
    async with ShareSimulator(generate_accounts(1, seed=5), seed=5) as share:
        [account] = share.accounts
        site = sites.site("readonly")
        pipeline = Pipeline(kafka_bootstrap, tmp_path)
        pipeline.write_config(
            {"readonly": (site.url, site.create_access_token("run", roles=READ_ONLY_ROLES))},
            [
                LinkSpec(
                    "dex",
                    account.username,
                    account.password,
                    account.region,
                    share.base_url(account.region),
                    targets=("readonly",),
                )
            ],
        )
        await pipeline.create_topics()
        # The vendor answers slowly: the poller's login is on the wire when the sink gives up,
        # and is cut off by the process's own stop.
        share.set_latency(60)
        code, seconds, log = await _until_exit(tmp_path, "run", pipeline.config)
    assert code == 2, log[-3000:]
    assert "stopped at once" not in log  # the poller and the processor stopped cleanly
    assert seconds < scaled(STOPS_WITHIN)
    assert log.count(_lacks_line("readonly")) == 1, log[-3000:]
    assert site.stats.count(method="PUT") == 0
    _nothing_misleading(log)

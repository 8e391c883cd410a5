"""What the one-shot commands exit with when they could not do what was asked, or had nothing to
do: a script running them must be able to tell."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nightstream.simulators.dexcomshare import ShareSimulator, generate_accounts
from tests.integration.cli_runs import CliRun
from tests.integration.pipeline import LinkSpec, Pipeline

pytestmark = pytest.mark.kafka
TOKEN_ENV = "NIGHTSTREAM_REPLAY_TOKEN"
UNREACHABLE = "http://127.0.0.1:9"
"""The discard port: nothing listens there."""


@pytest.fixture
async def sim() -> AsyncIterator[ShareSimulator]:
    async with ShareSimulator(generate_accounts(1, seed=3), seed=3) as simulator:
        yield simulator


async def _run(
    pipeline: Pipeline, name: str, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    run = CliRun.start(pipeline.workdir, name, [*args, "--config", str(pipeline.config)], env)
    code = await run.wait(within=60)
    assert "Traceback" not in run.stderr(), run.stderr()
    return code, run.stdout(), run.stderr()


@pytest.fixture
async def configured(pipeline: Pipeline, sim: ShareSimulator) -> Pipeline:
    [account] = sim.accounts
    server = sim.base_url(account.region)
    pipeline.write_config(
        {"ns": (UNREACHABLE, "t")},
        [
            LinkSpec("good", account.username, account.password, account.region, server),
            LinkSpec("refused", account.username, "not-the-password", account.region, server),
        ],
    )
    await pipeline.create_topics()
    return pipeline


async def test_poll_once_exits_1_when_a_link_stopped(configured: Pipeline) -> None:
    code, out, _err = await _run(configured, "poll", "poll", "--once")
    assert code == 1
    assert "link good: done" in out
    assert "link refused: stopped" in out
    code, out, _err = await _run(configured, "poll-good", "poll", "--once", "--link", "good")
    assert code == 0, out


async def test_tail_of_a_missing_topic_fails_and_an_empty_one_says_so(
    configured: Pipeline,
) -> None:
    missing = f"{configured.prefix}.raw.nothing"
    code, _out, err = await _run(configured, "tail-missing", "topics", "tail", missing)
    assert code == 2
    assert f"topic {missing} does not exist" in err
    empty = f"{configured.prefix}.cursors"
    code, out, err = await _run(configured, "tail-empty", "topics", "tail", empty)
    assert (code, out) == (0, "")
    assert f"topic {empty} is empty" in err


async def test_reprocess_of_an_empty_topic_completes(configured: Pipeline) -> None:
    code, out, err = await _run(configured, "reprocess", "reprocess", "--vendor", "dexcomshare")
    assert code == 0, err
    assert "reprocess of dexcomshare (every link): complete" in out
    assert "stopped at once" not in err


async def test_replay_and_reprocess_of_an_unknown_link_fail(configured: Pipeline) -> None:
    code, _out, err = await _run(
        configured, "reprocess-typo", "reprocess", "--vendor", "dexcomshare", "--link", "goood"
    )
    assert code == 2
    assert "unknown link goood" in err
    replay = ["replay", "--link", "goood", "--to", "http://127.0.0.1:9"]
    code, _out, err = await _run(configured, "replay-typo", *replay, env={TOKEN_ENV: "t"})
    assert code == 2
    assert "unknown link goood" in err


async def test_replay_to_an_unreachable_site_says_so_in_one_line(configured: Pipeline) -> None:
    replay = ["replay", "--link", "good", "--to", UNREACHABLE]
    code, out, err = await _run(configured, "replay-unreachable", *replay, env={TOKEN_ENV: "t"})
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"Error: cannot reach the Nightscout site at {UNREACHABLE} "
        "(ConnectError: All connection attempts failed): check --to"
    ]

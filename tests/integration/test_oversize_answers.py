"""Vendor answers larger than Kafka's default 1 MiB, on the real broker.

An answer up to the limit lands compressed in its raw topic; a larger one is a per-link error:
one log line, a small dead letter naming it, the cursor past its window, other links unharmed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from nightstream.config import load_settings
from nightstream.roles import build_poller
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.dead_letters import REFERENCE_KIND, sha256_hex
from nightstream.schemas.records import DeadLetter, PollCursor, RawPayload
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import DEAD_LETTER_MAX_BYTES, MAX_VENDOR_ANSWER_BYTES, TopicNames
from nightstream.simulators.dexcomshare import ManualClock, ShareSimulator, generate_accounts
from nightstream.sources.runner import LinkState, Poller, PollerOptions
from tests.integration.pipeline import LinkSpec, Pipeline
from tests.integration.topic_records import read_topic

pytestmark = pytest.mark.kafka

START_MS = 1_790_000_000_000
FIVE_MINUTES_MS = 5 * 60_000
BIG = "big"
SMALL = "small"


def _decoded(name: str, value: bytes) -> dict[str, object]:
    decoded: dict[str, object] = make_serde(name, subject="-").decode(value, topic=None)
    return decoded


async def _poll_once(pipeline: Pipeline, clock: ManualClock) -> Poller:
    options = PollerOptions(once=True, retry=RetryPolicy(base=0.2, cap=1.0))
    poller = build_poller(load_settings({}, pipeline.config), options, clock=clock.now_ms)
    await poller.run(asyncio.Event())
    return poller


async def _raw_bodies(pipeline: Pipeline) -> list[tuple[str, bytes]]:
    topic = TopicNames(pipeline.prefix).raw("dexcomshare")
    records = await read_topic(pipeline.bootstrap, topic)
    payloads = [RawPayload.from_avro(_decoded("raw_payload", r.value or b"")) for r in records]
    return [(p.link_id, p.body) for p in payloads]


async def test_an_answer_over_the_limit_is_skipped_with_a_letter_while_others_land(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    clock = ManualClock(START_MS)
    big_account, small_account = generate_accounts(2, seed=5)
    async with ShareSimulator([big_account, small_account], seed=5, clock=clock) as sim:
        pipeline.write_config(
            {"ns": ("http://127.0.0.1:9", "t")},
            [
                LinkSpec(BIG, a.username, a.password, a.region, sim.base_url(a.region))
                if a is big_account
                else LinkSpec(SMALL, a.username, a.password, a.region, sim.base_url(a.region))
                for a in (big_account, small_account)
            ],
        )
        await pipeline.create_topics()
        sim.service.inflate_next_reads(big_account.username, MAX_VENDOR_ANSWER_BYTES + 1024)
        with caplog.at_level(logging.ERROR, logger="nightstream.sources"):
            poller = await _poll_once(pipeline, clock)
        oversize_body = sim.service.last_read_body[big_account.key]
        assert len(oversize_body) > MAX_VENDOR_ANSWER_BYTES

        assert poller.status[BIG].state is LinkState.DONE
        assert poller.status[BIG].skipped_windows == 1
        assert poller.status[SMALL].payloads_published == 1
        assert [link for link, _ in await _raw_bodies(pipeline)] == [SMALL]
        lines = [r.getMessage() for r in caplog.records if "MiB" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].startswith(f"link {BIG}: the ")
        assert "skipped" in lines[0]

        names = TopicNames(pipeline.prefix)
        letters = await read_topic(kafka_bootstrap, names.dlq)
        assert len(letters) == 1
        assert len(letters[0].value or b"") <= DEAD_LETTER_MAX_BYTES
        letter = DeadLetter.from_avro(_decoded("dead_letter", letters[0].value or b""))
        assert (letter.stage, letter.link_id, letter.vendor) == ("poll", BIG, "dexcomshare")
        reference = json.loads(letter.original_value)
        assert reference["kind"] == REFERENCE_KIND
        assert reference["sha256"] == sha256_hex(oversize_body)
        assert reference["size"] == len(oversize_body)
        assert reference["endpoint"] == "Publisher/ReadPublisherLatestGlucoseValues"
        assert reference["window_end_ms"] == START_MS
        assert big_account.password not in letters[0].value.decode(errors="replace")

        cursors = {
            r.key: PollCursor.from_avro(_decoded("poll_cursor", r.value or b""))
            for r in await read_topic(kafka_bootstrap, names.cursors)
        }
        assert cursors[BIG.encode()].newest_data_ms == START_MS

        # The next poll asks only for what came after the skipped window, and lands.
        clock.advance(FIVE_MINUTES_MS)
        poller = await _poll_once(pipeline, clock)
        assert poller.status[BIG].payloads_published == 1
        assert sim.service.read_log[-1].minutes != "1440"
        landed = [link for link, _ in await _raw_bodies(pipeline)]
        assert sorted(landed) == [BIG, SMALL, SMALL]


async def test_a_five_megabyte_answer_lands_whole(kafka_bootstrap: str, tmp_path: Path) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    clock = ManualClock(START_MS)
    (account,) = generate_accounts(1, seed=6)
    async with ShareSimulator([account], seed=6, clock=clock) as sim:
        link = LinkSpec(BIG, account.username, account.password, "us", sim.base_url("us"))
        pipeline.write_config({"ns": ("http://127.0.0.1:9", "t")}, [link])
        await pipeline.create_topics()
        sim.service.inflate_next_reads(account.username, 5_000_000)
        poller = await _poll_once(pipeline, clock)
        assert poller.status[BIG].payloads_published == 1
        assert poller.status[BIG].skipped_windows == 0
        ((link_id, body),) = await _raw_bodies(pipeline)
        assert link_id == BIG
        assert len(body) >= 5_000_000
        assert body == sim.service.last_read_body[account.key]
        assert await read_topic(kafka_bootstrap, TopicNames(pipeline.prefix).dlq) == []

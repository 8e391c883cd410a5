"""Roles refuse topics the broker made with its defaults; ``topics create --fix`` repairs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.topics_admin import topic_states
from tests.integration.cli_runs import CliRun
from tests.integration.topic_records import topics_with_prefix
from tests.kafka_broker import KafkaNames

pytestmark = pytest.mark.kafka


async def _create_with_broker_defaults(bootstrap: str, names: list[str], partitions: int) -> None:
    """What a producer or consumer gets when the broker creates a topic for it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


def _config(tmp_path: Path, bootstrap: str, prefix: str) -> Path:
    path = tmp_path / "nightstream.toml"
    path.write_text(
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\ntopic_prefix = "{prefix}"\npartitions = 2\n',
        encoding="utf-8",
    )
    return path


async def _run(tmp_path: Path, name: str, *args: str) -> tuple[int, CliRun]:
    run = CliRun.start(tmp_path, name, list(args))
    code = await run.wait(within=60)
    assert "Traceback" not in run.stderr(), run.stderr()
    return code, run


async def test_roles_refuse_default_topics_and_topics_create_fixes_them(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    prefix = kafka_names.name("tc")
    names = TopicNames(prefix)
    config = str(_config(tmp_path, kafka_bootstrap, prefix))
    # The raw topic and the cursors as they came out of auto-creation: a week's retention, not
    # compacted, one partition.
    await _create_with_broker_defaults(kafka_bootstrap, [names.raw("dexcomshare")], 1)
    await _create_with_broker_defaults(kafka_bootstrap, [names.cursors], 1)

    code, process = await _run(tmp_path, "process", "process", "--config", config)
    assert code == 2
    refusal = process.stderr()
    assert f"{names.raw('dexcomshare')}: retention.ms=604800000, catalog says -1" in refusal
    assert f"{names.cursors}: cleanup.policy=delete, catalog says compact" in refusal
    assert f"{names.raw('librelinkup')}: missing" in refusal
    # Refusing did not make the broker create what was missing.
    assert await topics_with_prefix(kafka_bootstrap, prefix) == sorted(
        [names.raw("dexcomshare"), names.cursors]
    )

    code, plain = await _run(tmp_path, "create", "topics", "create", "--config", config)
    assert code == 1
    assert f"DIFFERS  {names.cursors}: cleanup.policy=delete" in plain.stdout()
    assert "can be fixed with --fix" in plain.stderr()

    code, fixing = await _run(tmp_path, "fix", "topics", "create", "--fix", "--config", config)
    assert code == 0, fixing.stdout() + fixing.stderr()
    assert f"FIXED    {names.cursors}: cleanup.policy was delete, now compact" in fixing.stdout()
    assert "DIFFERS" not in fixing.stdout()
    states = await topic_states(kafka_bootstrap, topic_catalog(prefix, partitions=2))
    assert [(s.spec.name, s.partitions, s.differences) for s in states] == [
        (s.spec.name, s.spec.partitions, ()) for s in states
    ]

    code, listing = await _run(tmp_path, "list", "topics", "list", "--config", config)
    assert code == 0
    lines = listing.stdout().splitlines()
    assert len(lines) == len(states)
    assert all(line.startswith("ok ") for line in lines), lines


async def test_topics_create_exits_non_zero_on_what_it_cannot_fix(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    prefix = kafka_names.name("tc")
    names = TopicNames(prefix)
    config = str(_config(tmp_path, kafka_bootstrap, prefix))
    # More partitions than the catalog's: Kafka cannot take partitions away.
    await _create_with_broker_defaults(kafka_bootstrap, [names.dlq], 3)

    code, fixing = await _run(tmp_path, "fix", "topics", "create", "--fix", "--config", config)
    assert code == 1
    assert f"DIFFERS  {names.dlq}: 3 partitions, catalog says 1" in fixing.stdout()
    assert f"FIXED    {names.dlq}: retention.ms" in fixing.stdout()

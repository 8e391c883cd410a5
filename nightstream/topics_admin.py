"""The catalog's topics on the broker: create them, compare them with the catalog, fix what is
safe to fix, and tell a role whether it may start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_admin
from nightstream.schemas.topics import TopicSpec

_DYNAMIC_TOPIC_CONFIG = 1
"""DescribeConfigs' source of a value set on the topic itself (not a broker default)."""


@dataclass(frozen=True)
class Difference:
    """One way an existing topic differs from the catalog."""

    topic: str
    setting: str
    """``partitions`` or a topic config key."""
    actual: str | None
    wanted: str
    fixable: bool
    """True when ``topics create --fix`` may change it: nothing stored is lost by the change."""
    note: str = ""

    def __str__(self) -> str:
        if self.setting == "partitions":
            text = f"{self.topic}: {self.actual} partitions, catalog says {self.wanted}"
        else:
            text = f"{self.topic}: {self.setting}={self.actual}, catalog says {self.wanted}"
        return text + self.note


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    fixed: list[Difference] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    """What still differs after the run."""

    @property
    def unfixable(self) -> list[Difference]:
        return [d for d in self.differences if not d.fixable]


@dataclass(frozen=True)
class TopicState:
    spec: TopicSpec
    partitions: int | None
    """None: the topic does not exist."""
    differences: tuple[Difference, ...] = ()

    @property
    def missing(self) -> bool:
        return self.partitions is None


def _partitions_note(spec: TopicSpec, actual: int) -> str:
    if actual < spec.partitions:
        return " (`nightstream topics create --fix` adds partitions)"
    if spec.schema_name in ("entry", "treatment", "devicestatus"):
        return (
            " (nothing is skipped: sinks order a document's versions by when their vendor answer "
            "was fetched, not by partition or offset, so a re-partitioned or recreated topic is "
            "safe; set kafka.partitions to match to silence this)"
        )
    return " (Kafka cannot remove partitions: set kafka.partitions to match)"


def _deletes_records(key: str, actual: str | None, wanted: str) -> bool:
    """True when changing ``key`` from ``actual`` to ``wanted`` makes the broker drop records."""
    if key != "retention.ms" or actual is None or int(wanted) < 0:
        return False
    return int(actual) < 0 or int(actual) > int(wanted)


def compare(spec: TopicSpec, partitions: int, configs: Mapping[str, str]) -> list[Difference]:
    """How an existing topic with ``partitions`` and ``configs`` differs from ``spec``."""
    differences = []
    if partitions != spec.partitions:
        differences.append(
            Difference(
                spec.name,
                "partitions",
                str(partitions),
                str(spec.partitions),
                fixable=partitions < spec.partitions,
                note=_partitions_note(spec, partitions),
            )
        )
    for key, wanted in spec.configs().items():
        actual = configs.get(key)
        if actual != wanted:
            unsafe = _deletes_records(key, actual, wanted)
            note = " (changing it would delete older records: change it by hand)" if unsafe else ""
            differences.append(Difference(spec.name, key, actual, wanted, not unsafe, note))
    return differences


async def _describe(
    admin: AIOKafkaAdminClient, names: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Per topic: every config value, and the values set on the topic itself."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    configs: dict[str, dict[str, str]] = {}
    own: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            _error, _msg, _type, name, entries = resource[:5]
            configs[name] = {entry[0]: entry[1] for entry in entries}
            own[name] = {e[0]: e[1] for e in entries if e[3] == _DYNAMIC_TOPIC_CONFIG}
    return configs, own


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic in await admin.describe_topics(names):
        if topic.get("error_code", 0) == 0:
            counts[topic["topic"]] = len(topic["partitions"])
    return counts


async def _states(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec]
) -> tuple[list[TopicState], dict[str, dict[str, str]]]:
    # Only topics that exist are described: describing a missing one can make the broker
    # create it with its defaults.
    present = set(await admin.list_topics())
    existing = [s.name for s in specs if s.name in present]
    configs, own = await _describe(admin, existing) if existing else ({}, {})
    partitions = await _partition_counts(admin, existing) if existing else {}
    states = []
    for spec in specs:
        count = partitions.get(spec.name)
        if count is None:
            states.append(TopicState(spec, None))
        else:
            differences = compare(spec, count, configs.get(spec.name, {}))
            states.append(TopicState(spec, count, tuple(differences)))
    return states, own


def _admin(bootstrap_servers: Brokers) -> AIOKafkaAdminClient:
    return kafka_admin(bootstrap_servers, request_timeout_ms=15000)


async def topic_states(bootstrap_servers: Brokers, specs: list[TopicSpec]) -> list[TopicState]:
    """Each catalog topic: missing, or its partitions and how it differs from the catalog."""
    admin = _admin(bootstrap_servers)
    await admin.start()
    try:
        states, _own = await _states(admin, specs)
    finally:
        await admin.close()
    return states


def refusals(states: list[TopicState]) -> list[str]:
    """Why a role must not start over these topics: missing ones (a producer or a consumer would
    make the broker create them with its defaults, a week's retention for the system of record)
    and configs that differ (retention, compaction). Partition counts do not stop a role."""
    lines = [f"{s.spec.name}: missing" for s in states if s.missing]
    lines += [str(d) for s in states for d in s.differences if d.setting != "partitions"]
    return lines


async def _create(admin: AIOKafkaAdminClient, spec: TopicSpec, replication_factor: int) -> bool:
    """Create ``spec``'s topic; False when it exists already."""
    topic = NewTopic(spec.name, spec.partitions, replication_factor, None, spec.configs())
    response = await admin.create_topics([topic])
    for _name, code, message in response.topic_errors:
        if code == TopicAlreadyExistsError.errno:
            return False
        if code != 0:
            raise KafkaError(f"cannot create {spec.name}: {message} (error {code})")
    return True


async def _fix(
    admin: AIOKafkaAdminClient,
    state: TopicState,
    own_configs: Mapping[str, str],
) -> list[Difference]:
    """Apply the fixable differences of one topic; the ones applied."""
    fixable = [d for d in state.differences if d.fixable]
    configs = {d.setting: d.wanted for d in fixable if d.setting != "partitions"}
    if configs:
        # AlterConfigs replaces every value set on the topic: keep the ones set by hand.
        resource = ConfigResource(
            ConfigResourceType.TOPIC, state.spec.name, configs={**own_configs, **configs}
        )
        for response in await admin.alter_configs([resource]):
            for code, message, _type, name in response.resources:
                if code != 0:
                    raise KafkaError(f"cannot change the configs of {name}: {message} ({code})")
    if any(d.setting == "partitions" for d in fixable):
        await admin.create_partitions({state.spec.name: NewPartitions(state.spec.partitions)})
    return fixable


CREATED_VISIBLE_SECONDS = 10.0


async def ensure_topics(
    bootstrap_servers: Brokers,
    specs: list[TopicSpec],
    replication_factor: int = 1,
    *,
    fix: bool = False,
) -> TopicsReport:
    """Create the missing topics; with ``fix``, also apply every fixable difference."""
    report = TopicsReport()
    admin = _admin(bootstrap_servers)
    await admin.start()
    try:
        states, own = await _states(admin, specs)
        for state in states:
            if not state.missing:
                report.existing.append(state.spec.name)
                if fix:
                    report.fixed += await _fix(admin, state, own.get(state.spec.name, {}))
            elif await _create(admin, state.spec, replication_factor):
                report.created.append(state.spec.name)
            else:
                report.existing.append(state.spec.name)
        if report.existing:
            after, _own = await _states(admin, [s for s in specs if s.name in report.existing])
            report.differences = [d for s in after for d in s.differences]
        await _until_listed(admin, report.created)
    finally:
        await admin.close()
    return report


async def _until_listed(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """A topic just created may not be listed yet by every broker, and roles refuse to start
    over a missing topic: return once the new ones are listed (or after a few seconds)."""
    deadline = time.monotonic() + CREATED_VISIBLE_SECONDS
    while names and time.monotonic() < deadline:
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)

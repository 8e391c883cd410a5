"""Create the catalog's topics idempotently and report existing ones that differ from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.topics import TopicSpec


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)


async def _describe(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    configs: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            _error, _msg, _type, name, entries = resource[:5]
            configs[name] = {entry[0]: entry[1] for entry in entries}
    return configs


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic in await admin.describe_topics(names):
        counts[topic["topic"]] = len(topic["partitions"])
    return counts


def _partitions_note(spec: TopicSpec) -> str:
    if spec.schema_name in ("entry", "treatment", "devicestatus"):
        return (
            " (nothing is skipped: sinks order a document's versions by when their vendor answer "
            "was fetched, not by partition or offset, so a re-partitioned or recreated topic is "
            "safe; set kafka.partitions to match to silence this)"
        )
    return ""


async def ensure_topics(
    bootstrap_servers: str, specs: list[TopicSpec], replication_factor: int = 1
) -> TopicsReport:
    report = TopicsReport()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        present = set(await admin.list_topics())
        for spec in specs:
            if spec.name in present:
                continue
            topic = NewTopic(spec.name, spec.partitions, replication_factor, None, spec.configs())
            response = await admin.create_topics([topic])
            for _name, code, message in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:
                    present.add(spec.name)
                elif code != 0:
                    raise KafkaError(f"cannot create {spec.name}: {message} (error {code})")
                else:
                    report.created.append(spec.name)
        existing = [s for s in specs if s.name in present]
        report.existing += [s.name for s in existing]
        if existing:
            configs = await _describe(admin, [s.name for s in existing])
            partitions = await _partition_counts(admin, [s.name for s in existing])
            for spec in existing:
                if partitions.get(spec.name) != spec.partitions:
                    report.differences.append(
                        f"{spec.name}: {partitions.get(spec.name)} partitions, "
                        f"catalog says {spec.partitions}{_partitions_note(spec)}"
                    )
                actual = configs.get(spec.name, {})
                for key, wanted in spec.configs().items():
                    if actual.get(key) != wanted:
                        report.differences.append(
                            f"{spec.name}: {key}={actual.get(key)}, catalog says {wanted}"
                        )
    finally:
        await admin.close()
    return report

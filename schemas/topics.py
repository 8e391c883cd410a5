"""The topic catalog: names (with a configurable prefix), partitions, cleanup and retention."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.documents import Collection

DEFAULT_PREFIX = "nightstream"
VENDORS = ("dexcomshare", "librelinkup", "carelink", "glooko", "tandem")
_DAY_MS = 24 * 3600 * 1000
CONTENT_HASHES_FORMAT = "faust-json"
"""``schema_name`` of the processor's table changelog: faust writes it as JSON, not Avro."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    schema_name: str
    partitions: int
    cleanup_policy: str
    retention_ms: int

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        if self.cleanup_policy == "compact":
            # Keep a replaced value readable for a day so slow consumers see the latest one.
            configs["delete.retention.ms"] = str(_DAY_MS)
        return configs


@dataclass(frozen=True)
class TopicNames:
    prefix: str = DEFAULT_PREFIX

    def raw(self, vendor: str) -> str:
        return f"{self.prefix}.raw.{vendor}"

    def ns(self, collection: Collection) -> str:
        return f"{self.prefix}.ns.{collection.value}"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def cursors(self) -> str:
        return f"{self.prefix}.cursors"

    @property
    def bindings(self) -> str:
        """``link id -> stream``: which vendor-side stream each link reads (compacted)."""
        return f"{self.prefix}.bindings"

    @property
    def links(self) -> str:
        """Links added at run time (``nightstream links``), spread over the pollers."""
        return f"{self.prefix}.links"

    @property
    def link_status(self) -> str:
        """What the poller owning each link last said about it."""
        return f"{self.prefix}.link-status"

    @property
    def link_handoffs(self) -> str:
        """Pollers saying they stopped the links of a partition a rebalance moved elsewhere."""
        return f"{self.prefix}.link-handoffs"

    @property
    def content_hashes(self) -> str:
        """The processor's ``collection/identifier -> content hash`` table changelog.

        Named independently of the faust app id, so a processor under another app id (a
        reprocess run's fresh consumer group) recovers the same table.
        """
        return f"{self.prefix}.processor.content-hashes-changelog"


def topic_catalog(prefix: str = DEFAULT_PREFIX, partitions: int = 6) -> list[TopicSpec]:
    names = TopicNames(prefix)
    forever = -1
    specs = [TopicSpec(names.raw(v), "raw_payload", partitions, "delete", forever) for v in VENDORS]
    specs += [
        TopicSpec(names.ns(c), c.schema_name, partitions, "compact", forever) for c in Collection
    ]
    specs.append(TopicSpec(names.dlq, "dead_letter", 1, "delete", 365 * _DAY_MS))
    specs.append(TopicSpec(names.cursors, "poll_cursor", 1, "compact", forever))
    specs.append(TopicSpec(names.bindings, "stream_binding", 1, "compact", forever))
    # Partitions bound how many poller instances share the links.
    specs.append(TopicSpec(names.links, "link", partitions, "compact", forever))
    specs.append(TopicSpec(names.link_status, "link_status", 1, "compact", forever))
    specs.append(TopicSpec(names.link_handoffs, "link_handoff", 1, "compact", forever))
    # faust's JSON key/value, not Avro; co-partitioned with the raw topics (faust requires it).
    specs.append(
        TopicSpec(names.content_hashes, CONTENT_HASHES_FORMAT, partitions, "compact", forever)
    )
    return specs

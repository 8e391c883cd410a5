"""The topic catalog: names (with a configurable prefix), partitions, cleanup and retention."""

from __future__ import annotations

from dataclasses import dataclass

from nightstream.schemas.documents import Collection

DEFAULT_PREFIX = "nightstream"
POLLED_VENDORS = ("dexcomshare", "librelinkup", "tandem")
"""The vendors nightstream polls: one raw topic each (a vendor's topic comes with its poller)."""
_DAY_MS = 24 * 3600 * 1000
CONTENT_HASHES_FORMAT = "faust-json"
"""``schema_name`` of the processor's table changelog: faust writes it as JSON, not Avro."""

MAX_VENDOR_ANSWER_BYTES = 16 * 1024 * 1024
"""The limit: the largest vendor answer (body as received, uncompressed) a raw topic takes.

Everything else about sizes follows from it. A larger answer is a per-link error: the poller
sends a small dead letter (hash, size, where it came from) instead of the body."""
RAW_ENVELOPE_ALLOWANCE = 64 * 1024
"""Room for a raw record's key and envelope fields beside a body of the largest size."""
RAW_RECORD_MAX_BYTES = MAX_VENDOR_ANSWER_BYTES + RAW_ENVELOPE_ALLOWANCE
"""Producer ``max_request_size`` for raw records (aiokafka checks the *uncompressed* size) and
the raw topics' ``max.message.bytes`` (checked after compression, so even an answer that does
not compress at all fits)."""
RAW_COMPRESSION = "zstd"
"""Codec of raw records: vendor JSON shrinks about 11x at zstd's level 3, quickly."""
DEAD_LETTER_MAX_BYTES = 512 * 1024
"""No dead letter is larger: well inside Kafka's default 1 MiB, so the DLQ topic and every
producer keep their default limits (see ``nightstream.schemas.dead_letters``)."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    schema_name: str
    partitions: int
    cleanup_policy: str
    retention_ms: int
    max_message_bytes: int | None = None
    """The topic's ``max.message.bytes``; None keeps the broker's (1 MiB by default)."""

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
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

    @property
    def sink_acked(self) -> str:
        """``site|collection/identifier -> what the site acknowledged``, partition ``p`` for the
        documents of partition ``p`` of the document topics (``sinks.nightscout.delivery``)."""
        return f"{self.prefix}.sink.acked"

    @property
    def sink_progress(self) -> str:
        """Where sites that fell behind (or are new to a stream) are in their catch-up."""
        return f"{self.prefix}.sink.progress"


def topic_catalog(prefix: str = DEFAULT_PREFIX, partitions: int = 6) -> list[TopicSpec]:
    names = TopicNames(prefix)
    forever = -1
    specs = [
        TopicSpec(names.raw(v), "raw_payload", partitions, "delete", forever, RAW_RECORD_MAX_BYTES)
        for v in POLLED_VENDORS
    ]
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
    # Co-partitioned with the document topics: a sink instance restores what it owns.
    specs.append(TopicSpec(names.sink_acked, CONTENT_HASHES_FORMAT, partitions, "compact", forever))
    specs.append(TopicSpec(names.sink_progress, "json", 1, "compact", forever))
    return specs

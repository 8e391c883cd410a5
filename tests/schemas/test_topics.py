"""The processor's content-hash changelog is a catalog topic, independent of any app id."""

from __future__ import annotations

from nightstream.schemas.topics import CONTENT_HASHES_FORMAT, TopicNames, topic_catalog


def test_the_content_hash_changelog_is_compacted_and_partitioned_like_the_raw_topics() -> None:
    specs = {s.name: s for s in topic_catalog("p", partitions=4)}
    changelog = specs[TopicNames("p").content_hashes]
    assert changelog.name == "p.processor.content-hashes-changelog"
    assert changelog.cleanup_policy == "compact"
    assert changelog.partitions == specs["p.raw.dexcomshare"].partitions
    assert changelog.schema_name == CONTENT_HASHES_FORMAT


def test_raw_topics_are_made_only_for_the_vendors_nightstream_polls() -> None:
    from typing import get_args

    from nightstream.config import VendorName
    from nightstream.streams.registry import TRANSFORMS

    raw = {s.name.removeprefix("p.raw.") for s in topic_catalog("p") if ".raw." in s.name}
    assert raw == set(get_args(VendorName)) == set(TRANSFORMS)

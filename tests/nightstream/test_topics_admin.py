"""How an existing topic is compared with the catalog, and what stops a role."""

from __future__ import annotations

from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.topics_admin import TopicState, compare, refusals

_WEEK_MS = "604800000"
SPECS = {s.name: s for s in topic_catalog("p", partitions=4)}
RAW = SPECS[TopicNames("p").raw("dexcomshare")]
CURSORS = SPECS[TopicNames("p").cursors]
DLQ = SPECS[TopicNames("p").dlq]


def test_a_topic_as_the_catalog_says_has_no_difference() -> None:
    assert compare(RAW, 4, RAW.configs()) == []


def test_broker_defaults_on_the_raw_topic_differ_and_can_be_fixed() -> None:
    broker_defaults = {"cleanup.policy": "delete", "retention.ms": _WEEK_MS}
    differences = compare(RAW, 4, broker_defaults)
    assert {d.setting: (d.actual, d.wanted) for d in differences} == {
        "retention.ms": (_WEEK_MS, "-1"),
        "max.message.bytes": (None, RAW.configs()["max.message.bytes"]),
    }
    assert all(d.fixable for d in differences)


def test_a_cursors_topic_that_is_not_compacted_differs_and_can_be_fixed() -> None:
    [difference] = compare(CURSORS, 1, {**CURSORS.configs(), "cleanup.policy": "delete"})
    assert (difference.setting, difference.actual, difference.wanted) == (
        "cleanup.policy",
        "delete",
        "compact",
    )
    assert difference.fixable


def test_a_change_that_would_delete_records_is_not_fixable() -> None:
    [difference] = compare(DLQ, 1, {**DLQ.configs(), "retention.ms": "-1"})
    assert difference.setting == "retention.ms"
    assert not difference.fixable


def test_partitions_can_be_added_not_removed() -> None:
    [fewer] = compare(RAW, 2, RAW.configs())
    [more] = compare(RAW, 8, RAW.configs())
    assert (fewer.fixable, more.fixable) == (True, False)
    assert str(fewer) == "p.raw.dexcomshare: 2 partitions, catalog says 4" + fewer.note


def test_a_role_refuses_missing_topics_and_wrong_configs_but_not_partition_counts() -> None:
    states = [
        TopicState(RAW, None),
        TopicState(CURSORS, 1, tuple(compare(CURSORS, 1, {"cleanup.policy": "delete"}))),
        TopicState(DLQ, 3, tuple(compare(DLQ, 3, DLQ.configs()))),
    ]
    assert refusals(states) == [
        "p.raw.dexcomshare: missing",
        "p.cursors: cleanup.policy=delete, catalog says compact",
        "p.cursors: retention.ms=None, catalog says -1",
        "p.cursors: delete.retention.ms=None, catalog says 86400000",
    ]


def test_every_catalog_topic_has_a_way_to_be_shown() -> None:
    from nightstream.topic_tail import decoder_for

    for spec in SPECS.values():
        assert callable(decoder_for(spec.name, "p", None)), spec.name

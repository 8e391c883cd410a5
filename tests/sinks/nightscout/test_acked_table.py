"""The acknowledged-hash table on a real broker: what it remembers across restarts."""

from __future__ import annotations

import pytest

from nightstream.sinks.nightscout.acked_table import DELETED, AckedTable, ReadAt
from tests.kafka_broker import unique_name

pytestmark = pytest.mark.kafka


async def test_a_restarted_table_knows_hashes_markers_and_where_each_version_was_read(
    kafka_bootstrap: str,
) -> None:
    topic = unique_name("acked")
    first = AckedTable(kafka_bootstrap, topic)
    await first.start()
    await first.record(
        [("entries/a", "h2"), ("entries/b", DELETED + "h1"), ("entries/c", "h9")],
        {"entries/a": ReadAt(1, 40), "entries/b": ReadAt(0, 7)},
    )
    await first.record([("entries/v", "h5")], {"entries/v": ReadAt(2, 900, 50)})
    await first.set_coverage([("t.ns.entries", 1, "nightstream://x/1")], [])
    await first.stop()

    table = AckedTable(kafka_bootstrap, topic)
    await table.start()
    try:
        assert table.get("entries/a") == "h2"
        assert table.is_settled("entries/a", "h2")
        assert not table.is_settled("entries/a", "h3")
        assert table.is_settled("entries/b", "anything")  # deleted by the user: never again
        # An older version on the same partition is superseded; a newer one or another
        # partition (the topic was repartitioned) is not.
        assert table.is_superseded("entries/a", ReadAt(1, 39))
        assert not table.is_superseded("entries/a", ReadAt(1, 40))
        assert not table.is_superseded("entries/a", ReadAt(1, 41))
        assert not table.is_superseded("entries/a", ReadAt(2, 10))
        # With versions, the version decides, whatever the partition and offset (a rebuilt
        # topic starts again at offset 0; more partitions move documents).
        assert table.is_superseded("entries/v", ReadAt(0, 5000, 49))
        assert not table.is_superseded("entries/v", ReadAt(2, 0, 50))
        assert not table.is_superseded("entries/v", ReadAt(5, 0, 51))
        # Entries written without a position (older releases) still count as hashes.
        assert table.is_settled("entries/c", "h9")
        assert not table.is_superseded("entries/c", ReadAt(0, 0))
        # Route coverage survives a restart too.
        assert table.is_covered("t.ns.entries", 1, "nightstream://x/1")
        assert not table.is_covered("t.ns.entries", 0, "nightstream://x/1")
    finally:
        await table.stop()

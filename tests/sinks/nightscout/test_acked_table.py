"""The acknowledged-hash table on a real broker: what it remembers across restarts."""

from __future__ import annotations

import pytest

from sinks.nightscout.acked_table import DELETED, AckedTable
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
        {"entries/a": (1, 40), "entries/b": (0, 7)},
    )
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
        assert table.is_superseded("entries/a", 1, 39)
        assert not table.is_superseded("entries/a", 1, 40)
        assert not table.is_superseded("entries/a", 1, 41)
        assert not table.is_superseded("entries/a", 2, 10)
        # Entries written without a position (older releases) still count as hashes.
        assert table.is_settled("entries/c", "h9")
        assert not table.is_superseded("entries/c", 0, 0)
    finally:
        await table.stop()

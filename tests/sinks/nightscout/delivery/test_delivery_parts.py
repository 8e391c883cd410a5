"""The fan-out sink's bookkeeping: offsets settled out of order, catch-ups, site answers."""

from __future__ import annotations

from aiokafka import TopicPartition

from nightstream.schemas.stream_partitions import stream_partition
from nightstream.sinks.nightscout.delivery.catch_up import CatchUp
from nightstream.sinks.nightscout.delivery.offset_progress import OffsetProgress
from nightstream.sinks.nightscout.delivery.progress_store import SavedCatchUp
from nightstream.sinks.nightscout.delivery.site_acks import DELETED, Answer
from tests.integration.topic_records import sgv_entry

STREAM = "nightstream://dexcomshare/0123456789ab"
TP = TopicPartition("p.ns.entries", 1)


def test_the_commit_point_waits_for_the_first_unsettled_offset_of_any_site() -> None:
    progress = OffsetProgress(10)
    progress.hand_out(10, 2)  # two sites
    progress.hand_out(11, 0)  # no site
    progress.hand_out(12, 1)
    assert progress.point() == 10
    progress.settle(12)
    progress.settle(10)
    assert progress.point() == 10, "one of the two sites has not answered offset 10"
    progress.settle(10)
    assert progress.point() == 13
    progress.reset(5)
    progress.settle(12)  # a late answer from before the reset changes nothing
    assert progress.point() == 5


def test_a_catch_up_hands_over_where_it_read_and_finishes_once_settled() -> None:
    catch_up = CatchUp.starting("site", TP, start=3)
    assert catch_up.follows_live
    catch_up.progress.hand_out(3, 1)
    catch_up.advance(8)
    assert catch_up.hand_over() == 8
    assert catch_up.reading_done
    assert not catch_up.finished, "offset 3 is not settled yet"
    assert catch_up.saved() == SavedCatchUp(3, 8, None)
    catch_up.progress.settle(3)
    assert catch_up.finished


def test_a_catch_up_for_a_stream_stops_where_the_live_readers_were() -> None:
    catch_up = CatchUp.starting("site", TP, start=0, until=5, streams=frozenset({STREAM}))
    catch_up.advance(9)
    assert catch_up.read_next == 5
    assert catch_up.finished
    catch_up.restart_from(2)
    assert (catch_up.read_next, catch_up.progress.point()) == (2, 2)


def test_an_answer_knows_newer_versions_by_version_else_by_offset() -> None:
    record = sgv_entry(STREAM, 1_790_000_000_000, 120)
    answer = Answer.decode(Answer(record.content_hash, None, 1, 40).encode())
    assert answer == Answer(record.content_hash, None, 1, 40)
    assert answer.settles(record)
    assert answer.supersedes(record, 1, 39)
    assert not answer.supersedes(record, 1, 41)
    assert not answer.supersedes(record, 2, 39), "offsets of other partitions say nothing"
    versioned = Answer(record.content_hash, 200, 1, 40)
    assert versioned.supersedes(record.at_version(199), 1, 99)
    assert not versioned.supersedes(record.at_version(201), 0, 0)
    assert Answer(DELETED + "other", None, 1, 1).settles(record), "deleted stays deleted"


def test_every_document_of_a_stream_has_one_partition() -> None:
    partitions = {stream_partition(STREAM, 6) for _ in range(3)}
    assert len(partitions) == 1
    spread = {stream_partition(f"nightstream://dexcomshare/{n:012x}", 6) for n in range(60)}
    assert spread == set(range(6)), "streams spread over every partition"


def test_an_answer_moves_to_the_same_content_read_later() -> None:
    """v1 at 10, an edit at 20, v1 again at 30: the answer for v1 must move to 30, or a re-read
    of the edit (20) would look newer than what the site holds and be written over it."""
    record = sgv_entry(STREAM, 1_790_000_000_000, 120)
    answer = Answer(record.content_hash, None, 1, 10)
    assert answer.settles(record)
    assert answer.read_before(record, 1, 30)
    assert not answer.read_before(record, 1, 5)
    moved = Answer(record.content_hash, None, 1, 30)
    assert moved.supersedes(record, 1, 20), "the edit read again is older than the answer"

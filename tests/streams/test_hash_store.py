"""The processor's local hash store on the real broker: delta restore, horizon, one owner."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from nightstream.schemas.compacted import read_records
from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.hash_changelog import ChangelogHashes, HashEntry, send_entries
from nightstream.schemas.hash_store import DAY_MS, LocalHashStore
from nightstream.schemas.topics import TopicSpec
from nightstream.topics_admin import ensure_topics

pytestmark = pytest.mark.kafka

NOW_MS = 1_790_000_000_000
HORIZON_MS = 2 * DAY_MS


def entries(count: int, date_ms: int, tag: str = "h") -> list[HashEntry]:
    return [HashEntry(f"entries/{tag}-{n}", f"{tag}{n:04d}", date_ms) for n in range(count)]


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
async def changelog(kafka_bootstrap: str) -> str:
    topic = f"hashes-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, "json", 2, "compact", -1)])
    return topic


StoreFactory = Callable[[Path], LocalHashStore]


@pytest.fixture
def make_store(
    kafka_bootstrap: str, changelog: str, producer: AIOKafkaProducer
) -> Iterator[StoreFactory]:
    opened: list[LocalHashStore] = []

    def make(state_dir: Path) -> LocalHashStore:
        store = LocalHashStore(
            kafka_bootstrap, changelog, producer, state_dir=state_dir, horizon_ms=HORIZON_MS
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


async def test_a_reassigned_partition_reads_only_what_others_wrote_since(
    make_store: StoreFactory, tmp_path: Path, changelog: str, producer: AIOKafkaProducer
) -> None:
    first = make_store(tmp_path / "a")
    assert await first.assign([0, 1]) == 0
    await first.record({0: entries(500, NOW_MS), 1: entries(300, NOW_MS, "g")}, {})
    assert first.lookup(["entries/h-7", "entries/g-9", "entries/x"]) == {
        "entries/h-7": "h0007",
        "entries/g-9": "g0009",
    }
    first.revoke([0, 1])
    assert first.lookup(["entries/h-7"]) == {}, "a revoked partition must not be consulted"

    # Meanwhile another writer (the partition's other owner, a reprocess pass) adds 3 records.
    await send_entries(producer, changelog, {0: entries(3, NOW_MS, "other")})
    assert await first.assign([0, 1]) == 3
    assert first.lookup(["entries/other-2"]) == {"entries/other-2": "other0002"}
    assert first.count() == 803

    # A store with no local state reads the whole changelog, and ends with the same table.
    cold = make_store(tmp_path / "b")
    assert await cold.assign([0, 1]) == 803
    assert cold.count() == 803
    assert cold.next_offset(0) == first.next_offset(0) == 503


async def test_entries_behind_the_horizon_are_tombstoned_and_not_restored(
    make_store: StoreFactory,
    tmp_path: Path,
    kafka_bootstrap: str,
    changelog: str,
    producer: AIOKafkaProducer,
) -> None:
    store = make_store(tmp_path / "a")
    await store.assign([0])
    old, recent = entries(40, NOW_MS - 3 * DAY_MS, "old"), entries(10, NOW_MS, "new")
    await store.record({0: old + recent}, {0: NOW_MS})
    assert store.count() == 10
    assert store.lookup(["entries/old-1", "entries/new-1"]) == {"entries/new-1": "new0001"}

    records = await read_records(kafka_bootstrap, changelog, [0])
    assert sum(r.value is None for r in records) == 40
    assert {r.timestamp for r in records if r.value is not None} == {NOW_MS - 3 * DAY_MS, NOW_MS}

    cold = make_store(tmp_path / "b")
    await cold.assign([0])
    assert cold.count() == 10
    # The in-memory table of a reprocess pass sees the same: tombstones remove.
    everything = ChangelogHashes(kafka_bootstrap, changelog, producer)
    await everything.load([0])
    assert len(everything) == 10


async def test_a_changelog_shorter_than_the_local_offset_is_restored_from_its_start(
    make_store: StoreFactory, tmp_path: Path, kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    store = make_store(tmp_path / "a")
    await store.assign([0])
    await store.record({0: entries(20, NOW_MS)}, {})
    store.close()
    # The same state directory over a new (recreated) changelog of the same name is simulated
    # by a store whose database holds offsets beyond the new topic's end.
    recreated = f"hashes-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(recreated, "json", 2, "compact", -1)])
    (tmp_path / "a" / store.path.name).rename(tmp_path / "a" / f"{recreated}.sqlite")
    again = LocalHashStore(kafka_bootstrap, recreated, producer, state_dir=tmp_path / "a")
    try:
        await send_entries(producer, recreated, {0: entries(5, NOW_MS, "fresh")})
        assert await again.assign([0]) == 5
        assert again.count() == 5
        assert again.lookup(["entries/h-1"]) == {}
    finally:
        again.close()


def test_two_processors_cannot_share_a_state_directory(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    make_store(tmp_path / "shared")
    with pytest.raises(NightstreamError, match=r"own processor\.state_dir"):
        make_store(tmp_path / "shared")

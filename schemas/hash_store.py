"""Content hashes, bounded: a local SQLite store in front of a compacted changelog topic.

The processor keeps ``address -> hash of the last emitted content`` here; the sink keeps
``target|address -> what the target acknowledged``. The text below speaks of the processor.

Why a disk store and a horizon, both:

- **Restore reads only the delta.** Each changelog partition's rows and the changelog offset
  they reflect (``next_offset``) are written in one SQLite transaction, so after a rebalance
  (or a restart with ``processor.state_dir`` kept) a partition is restored by reading the
  changelog from ``next_offset`` to its end, not from its beginning: restore time depends on
  what was written since, not on the length of history. Rows of partitions this instance loses
  stay on disk (the protocol is eager: a rebalance revokes everything and gives most of it
  back), but are not consulted until the partition is assigned again and caught up.
- **Memory does not hold the table.** Lookups are point queries on an index; RSS is SQLite's
  page cache (``CACHE_KIB``), whatever the number of rows.
- **A horizon bounds the table and the changelog.** An entry only matters while a re-poll or a
  re-sent window can still bring its document again. Entries dated more than ``horizon_ms``
  before the partition's *stream time* (the newest ``fetched_at_ms`` of the raw payloads it has
  processed; event time, so a backlog processed late expires nothing early) are deleted and
  tombstoned on the changelog, so compaction drops them and a cold start (no local state)
  reads at most a horizon of entries. The default, 35 days (``DEFAULT_HORIZON_DAYS``), covers
  the longest window a vendor re-sends, Tandem's 28 days (Dexcom Share re-sends 24 h,
  LibreLinkUp up to 14 days), plus a week for links whose polls lag others of their partition.

A document older than the horizon that comes again (a re-poll with a window longer than the
horizon, or ``nightstream reprocess`` over old raw records) is emitted again with the content
it already had: the sink compares it with the hash it last acknowledged for that target and
skips it, and a write would be a PUT of identical content under the same identifier anyway.

Offsets advance only over this store's own writes when they are contiguous with what it had
(``next_offset`` = the first of them); a write by anyone else in between (a reprocess pass, an
instance that lost the partition) leaves a gap, so ``next_offset`` stays and the next restore
reads those records too. A changelog shorter than ``next_offset`` (recreated or truncated)
makes the partition restore from the beginning.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import sqlite3
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition

from nightstream.schemas.errors import NightstreamError
from nightstream.schemas.fencing import check_lease
from nightstream.schemas.group_commit import GroupCommit
from nightstream.schemas.hash_changelog import HashEntry, send_entries
from nightstream.schemas.kafka_access import Brokers
from nightstream.schemas.kafka_clients import kafka_consumer

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
DEFAULT_HORIZON_DAYS = 35.0
CACHE_KIB = 16_384
SWEEP_EVERY_MS = 3_600_000
"""Stream time between two expiry sweeps of a partition."""
SWEEP_LIMIT = 20_000
"""Entries tombstoned per sweep at most, so one sweep never stalls the processor long."""
_QUERY_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (
    address TEXT NOT NULL,
    partition INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    date_ms INTEGER NOT NULL,
    PRIMARY KEY (address, partition)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hashes_by_date ON hashes (partition, date_ms);
CREATE TABLE IF NOT EXISTS changelog (
    partition INTEGER PRIMARY KEY,
    next_offset INTEGER NOT NULL
);
"""
_UPSERT = (
    "INSERT INTO hashes (address, partition, content_hash, date_ms) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (address, partition) DO UPDATE "
    "SET content_hash = excluded.content_hash, date_ms = excluded.date_ms"
)


Recorded = tuple[Mapping[int, Sequence[HashEntry]], Mapping[int, int]]
"""One ``record`` call: entries by changelog partition, stream time by partition."""


class LocalHashStore:
    def __init__(
        self,
        bootstrap_servers: Brokers,
        topic: str,
        producer: AIOKafkaProducer,
        *,
        state_dir: Path | None = None,
        horizon_ms: int = int(DEFAULT_HORIZON_DAYS * DAY_MS),
        owner: str = "processor",
    ) -> None:
        self._owner = owner
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._producer = producer
        self._horizon_ms = horizon_ms
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="nightstream-hashes-")
            state_dir = Path(self._temporary.name)
        state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_directory(state_dir, owner)
        self.path = state_dir / f"{topic}.sqlite"
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.executescript(_SCHEMA)
        self._owned: set[int] = set()
        self._last_sweep: dict[int, int] = {}
        self._commits: GroupCommit[Recorded] = GroupCommit(self._record_together)

    def close(self) -> None:
        self._db.close()
        self._lock.close()
        if self._temporary is not None:
            self._temporary.cleanup()

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._owned)

    def count(self, partitions: Iterable[int] | None = None) -> int:
        wanted = sorted(self._owned if partitions is None else set(partitions))
        marks = ",".join("?" * len(wanted))
        query = f"SELECT COUNT(*) FROM hashes WHERE partition IN ({marks})"  # noqa: S608
        row = self._db.execute(query, wanted).fetchone()
        return int(row[0])

    def next_offset(self, partition: int) -> int:
        row = self._db.execute(
            "SELECT next_offset FROM changelog WHERE partition = ?", (partition,)
        ).fetchone()
        return int(row[0]) if row is not None else 0

    async def assign(self, partitions: Iterable[int]) -> int:
        """Catch ``partitions`` up with the changelog and use them; returns records read."""
        wanted = sorted(set(partitions))
        if not wanted:
            return 0
        read = await self._restore(wanted)
        self._owned.update(wanted)
        return read

    def revoke(self, partitions: Iterable[int]) -> None:
        """Stop consulting ``partitions`` (their rows stay for when they come back)."""
        for partition in partitions:
            self._owned.discard(partition)
            self._last_sweep.pop(partition, None)

    def lookup(self, addresses: Collection[str]) -> dict[str, str]:
        """The recorded hash of each of ``addresses`` that has one, in an owned partition."""
        owned = sorted(self._owned)
        if not owned or not addresses:
            return {}
        found: dict[str, str] = {}
        partitions = ",".join(map(str, owned))
        wanted = list(addresses)
        for start in range(0, len(wanted), _QUERY_CHUNK):
            chunk = wanted[start : start + _QUERY_CHUNK]
            query = (
                "SELECT address, content_hash FROM hashes "  # noqa: S608 (only integers)
                f"WHERE partition IN ({partitions}) AND address IN ({','.join('?' * len(chunk))})"
            )
            found.update(self._db.execute(query, chunk).fetchall())
        return found

    async def record(
        self, entries: Mapping[int, Sequence[HashEntry]], stream_times: Mapping[int, int]
    ) -> None:
        """Write ``entries`` to the changelog, await Kafka once, then store them; then expire
        what fell behind the horizon in partitions whose stream time moved far enough.
        Concurrent calls are written together (``GroupCommit``): one changelog write at a
        time, so this store's own writes stay contiguous and ``next_offset`` advances."""
        check_lease()
        await self._commits.submit((entries, stream_times))

    async def _record_together(self, calls: list[Recorded]) -> None:
        entries: dict[int, list[HashEntry]] = {}
        stream_times: dict[int, int] = {}
        for call_entries, call_times in calls:
            for partition, rows in call_entries.items():
                entries.setdefault(partition, []).extend(rows)
            for partition, stream_time in call_times.items():
                stream_times[partition] = max(stream_times.get(partition, stream_time), stream_time)
        written = await send_entries(self._producer, self._topic, entries)
        with self._transaction():
            for partition, rows in entries.items():
                self._db.executemany(
                    _UPSERT, [(r.address, partition, r.content_hash, r.date_ms) for r in rows]
                )
                self._advance_over(partition, written[partition])
        for partition, stream_time in stream_times.items():
            last = self._last_sweep.get(partition)
            if last is None or stream_time - last >= SWEEP_EVERY_MS:
                self._last_sweep[partition] = stream_time
                await self.expire(partition, stream_time - self._horizon_ms)

    async def expire(self, partition: int, before_ms: int) -> int:
        """Tombstone and delete entries of ``partition`` dated before ``before_ms``."""
        rows = self._db.execute(
            "SELECT address FROM hashes WHERE partition = ? AND date_ms < ? LIMIT ?",
            (partition, before_ms, SWEEP_LIMIT),
        ).fetchall()
        if not rows:
            return 0
        addresses = [row[0] for row in rows]
        check_lease()
        pending = []
        for address in addresses:
            key = json.dumps(address).encode()
            pending.append(
                await self._producer.send(self._topic, None, key=key, partition=partition)
            )
        written: list[int] = [(await future).offset for future in pending]
        with self._transaction():
            self._db.executemany(
                "DELETE FROM hashes WHERE address = ? AND partition = ?",
                [(address, partition) for address in addresses],
            )
            self._advance_over(partition, written)
        logger.info(
            "%s: %d content hashes of partition %d expired", self._owner, len(rows), partition
        )
        return len(rows)

    def _advance_over(self, partition: int, written: Sequence[int]) -> None:
        if not written:
            return
        offsets = sorted(written)
        contiguous = offsets[-1] - offsets[0] + 1 == len(offsets)
        if contiguous and offsets[0] == self.next_offset(partition):
            self._set_next_offset(partition, offsets[-1] + 1)

    def _set_next_offset(self, partition: int, offset: int) -> None:
        self._db.execute(
            "INSERT INTO changelog (partition, next_offset) VALUES (?, ?) "
            "ON CONFLICT (partition) DO UPDATE SET next_offset = excluded.next_offset",
            (partition, offset),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def _restore(self, partitions: list[int]) -> int:
        consumer = kafka_consumer(self._bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(self._topic, p) for p in partitions]
            consumer.assign(tps)
            begin = await consumer.beginning_offsets(tps)
            end = await consumer.end_offsets(tps)
            pending: set[TopicPartition] = set()
            for tp in tps:
                start = self.next_offset(tp.partition)
                if not begin[tp] <= start <= end[tp]:
                    logger.warning(
                        "%s: changelog %s[%d] ends at %d, before the %d held locally "
                        "(recreated?): restoring it from the beginning",
                        self._owner,
                        self._topic,
                        tp.partition,
                        end[tp],
                        start,
                    )
                    with self._transaction():
                        self._db.execute("DELETE FROM hashes WHERE partition = ?", (tp.partition,))
                        self._set_next_offset(tp.partition, begin[tp])
                    start = begin[tp]
                if start < end[tp]:
                    consumer.seek(tp, start)
                    pending.add(tp)
            read = 0
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=10_000)
                positions = {tp: min(await consumer.position(tp), end[tp]) for tp in pending}
                # No await inside a transaction: the processor may record meanwhile.
                with self._transaction():
                    for tp, records in batch.items():
                        read += self._apply([r for r in records if r.offset < end[tp]], tp)
                    for tp, position in positions.items():
                        self._set_next_offset(tp.partition, position)
                pending = {tp for tp, position in positions.items() if position < end[tp]}
            return read
        finally:
            await consumer.stop()

    def _apply(self, records: list[ConsumerRecord[bytes, bytes]], tp: TopicPartition) -> int:
        latest: dict[str, ConsumerRecord[bytes, bytes]] = {}
        for record in records:
            if record.key is not None:
                latest[json.loads(record.key)] = record
        upserts = [
            (address, tp.partition, json.loads(r.value), r.timestamp)
            for address, r in latest.items()
            if r.value is not None
        ]
        deletes = [(address, tp.partition) for address, r in latest.items() if r.value is None]
        self._db.executemany(_UPSERT, upserts)
        self._db.executemany("DELETE FROM hashes WHERE address = ? AND partition = ?", deletes)
        return len(records)


def _lock_directory(directory: Path, owner: str) -> TextIO:
    handle = (directory / "LOCK").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise NightstreamError(
            f"the {owner} state directory {directory} is in use by another {owner}: "
            f"give each {owner} instance its own {owner}.state_dir"
        ) from None
    return handle

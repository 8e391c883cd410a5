"""Shared parts of the links-assignment tests: a topic, a writer, hosts that record ownership."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from aiokafka import AIOKafkaProducer

from nightstream.schemas.records import LinkRecord
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicSpec
from nightstream.sources.link_assignment import HandoffTopic
from nightstream.sources.link_credentials import Credentials, LinkKeyring, new_key
from nightstream.sources.secret import Secret
from nightstream.topics_admin import ensure_topics

KEYRING = LinkKeyring([new_key()])
LINK_SERDE = make_serde("link", subject="links-value")


def handoffs_of(topic: str) -> HandoffTopic:
    """The hand-off topic that goes with a test's links topic."""
    return HandoffTopic(f"{topic}-handoffs", make_serde("link_handoff", subject="handoffs"))


async def create_links_topic(bootstrap: str, topic: str, partitions: int) -> None:
    specs = [
        TopicSpec(topic, "link", partitions, "compact", -1),
        TopicSpec(handoffs_of(topic).name, "link_handoff", 1, "compact", -1),
    ]
    await ensure_topics(bootstrap, specs, 1)


def link(link_id: str, password: str = "pw-1", **changes: object) -> LinkRecord:  # noqa: S107
    secret = Credentials(Secret(f"{link_id}@example.org"), Secret(password))
    record = LinkRecord(
        id=link_id,
        vendor="dexcomshare",
        credentials=KEYRING.encrypt(secret),
        targets=["home"],
        updated_at_ms=time.time_ns() // 1_000_000,
        region="us",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


class LinkWriter:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self._topic = topic

    async def __aenter__(self) -> LinkWriter:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def put(self, records: Sequence[LinkRecord]) -> None:
        sent = [
            await self._producer.send(
                self._topic, key=r.id.encode(), value=LINK_SERDE.encode(r.to_avro())
            )
            for r in records
        ]
        await asyncio.gather(*sent)

    async def delete(self, link_id: str) -> None:
        await self._producer.send_and_wait(self._topic, key=link_id.encode(), value=None)


@dataclass(frozen=True)
class Event:
    kind: str  # "start" or "stop"
    link_id: str
    member: str
    at: float  # time.monotonic(): one clock for every process on the machine
    record: LinkRecord | None = None


@dataclass
class RecordingHost:
    """A LinkHost that records when each link starts and (after it has stopped) stops."""

    member: str
    on_event: Callable[[Event], None] | None = None
    events: list[Event] = field(default_factory=list)
    running: dict[str, LinkRecord] = field(default_factory=dict)

    def _record(self, event: Event) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    async def add_link(self, link: LinkRecord) -> None:
        assert link.id not in self.running, f"{link.id} started twice on {self.member}"
        assert not link.paused
        self._record(Event("start", link.id, self.member, time.monotonic(), link))
        self.running[link.id] = link

    async def remove_link(self, link_id: str) -> None:
        assert link_id in self.running, f"{link_id} stopped on {self.member} but not running"
        await asyncio.sleep(0)  # a real poller awaits its in-flight poll here
        del self.running[link_id]
        self._record(Event("stop", link_id, self.member, time.monotonic()))


def overlaps(events: Sequence[Event], ended: dict[str, float] | None = None) -> list[str]:
    """Links owned by two members at once. ``ended``: members killed, and when they were dead
    (their open intervals end then)."""
    open_at: dict[tuple[str, str], float] = {}
    intervals: dict[str, list[tuple[float, float, str]]] = {}
    for event in sorted(events, key=lambda e: e.at):
        key = (event.link_id, event.member)
        if event.kind == "start":
            open_at[key] = event.at
        else:
            start = open_at.pop(key)
            intervals.setdefault(event.link_id, []).append((start, event.at, event.member))
    for (link_id, member), start in open_at.items():
        end = (ended or {}).get(member, float("inf"))
        intervals.setdefault(link_id, []).append((start, end, member))
    problems = []
    for link_id, spans in intervals.items():
        spans.sort()
        for (_, end, before), (start, _, after) in itertools.pairwise(spans):
            if start < end:
                problems.append(f"{link_id}: {after} started before {before} stopped")
    return problems


def owners(events: Sequence[Event], dead: frozenset[str] = frozenset()) -> dict[str, set[str]]:
    """Who runs each link now, from the events (members in ``dead`` run nothing)."""
    running: dict[str, set[str]] = {}
    for event in sorted(events, key=lambda e: e.at):
        holders = running.setdefault(event.link_id, set())
        if event.kind == "start":
            holders.add(event.member)
        else:
            holders.discard(event.member)
    return {k: v - dead for k, v in running.items() if v - dead}

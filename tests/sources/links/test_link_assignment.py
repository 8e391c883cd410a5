"""Links spread by a consumer group over the links topic, on the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from nightstream.sources.link_assignment import AssignmentOptions, LinkAssignment
from tests.integration.pipeline import wait_until
from tests.kafka_broker import KafkaNames
from tests.sources.links.assignment_kit import (
    LINK_SERDE,
    Event,
    LinkWriter,
    RecordingHost,
    create_links_topic,
    handoffs_of,
    link,
    overlaps,
    owners,
)

pytestmark = pytest.mark.kafka
WITHIN = 60.0  # seconds; generous for a busy 2-core machine


@contextlib.asynccontextmanager
async def member(
    bootstrap: str, topic: str, group: str, name: str
) -> AsyncIterator[tuple[LinkAssignment, RecordingHost]]:
    host = RecordingHost(name)
    options = AssignmentOptions(
        group_id=group, instance_id=name, session_timeout_ms=6_000, heartbeat_interval_ms=1_000
    )
    assignment = LinkAssignment(bootstrap, topic, LINK_SERDE, host, options, handoffs_of(topic))
    stop = asyncio.Event()
    task = asyncio.create_task(assignment.run(stop))
    try:
        yield assignment, host
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=WITHIN)


def running(host: RecordingHost) -> Callable[[set[str]], Callable[[], asyncio.Future[bool]]]:
    def expect(ids: set[str]) -> Callable[[], asyncio.Future[bool]]:
        async def check() -> bool:
            return set(host.running) == ids

        return check  # type: ignore[return-value]

    return expect


async def _links_topic(bootstrap: str, names: KafkaNames, partitions: int) -> tuple[str, str]:
    """A fresh links topic (with its hand-offs topic) and the pollers' group to read it."""
    topic = names.topic("links")
    await create_links_topic(bootstrap, topic, partitions=partitions)
    return topic, names.group("pollers")


async def test_changes_at_run_time_reach_the_owner_and_touch_no_other_link(
    kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    topic, group = await _links_topic(kafka_bootstrap, kafka_names, partitions=3)
    async with LinkWriter(kafka_bootstrap, topic) as writer:
        await writer.put([link(f"l{i}") for i in range(6)])
        await writer.put([link("l5", paused=True)])
        await writer.delete("l4")
        async with member(kafka_bootstrap, topic, group, "m1") as (assignment, host):
            expect = running(host)
            # The topic's state at start: the latest version of each link, deleted and paused
            # ones left out, each started once.
            await wait_until(expect({"l0", "l1", "l2", "l3"}), within=WITHIN, what="start")
            assert sorted(e.link_id for e in host.events) == ["l0", "l1", "l2", "l3"]

            async def only(changed: set[str], since: int, ids: set[str]) -> None:
                await wait_until(expect(ids), within=WITHIN, what=f"links {sorted(ids)}")
                touched = {e.link_id for e in host.events[since:]}
                assert touched == changed, host.events[since:]

            t0 = time.monotonic()
            mark = len(host.events)
            await writer.put([link("l6")])
            await only({"l6"}, mark, {"l0", "l1", "l2", "l3", "l6"})
            assert time.monotonic() - t0 < WITHIN

            mark = len(host.events)
            await writer.put([link("l1", password="new password")])
            await wait_until(
                lambda: _true(len(host.events) >= mark + 2), within=WITHIN, what="restart of l1"
            )
            assert [(e.kind, e.link_id) for e in host.events[mark:]] == [
                ("stop", "l1"),
                ("start", "l1"),
            ]
            assert host.running["l1"].credentials != host.events[0].record.credentials  # type: ignore[union-attr]

            mark = len(host.events)
            await writer.put([link("l2", paused=True)])
            await only({"l2"}, mark, {"l0", "l1", "l3", "l6"})
            mark = len(host.events)
            await writer.put([link("l2"), link("l5")])  # resume both
            await only({"l2", "l5"}, mark, {"l0", "l1", "l2", "l3", "l5", "l6"})
            mark = len(host.events)
            await writer.delete("l0")
            await only({"l0"}, mark, {"l1", "l2", "l3", "l5", "l6"})

            # The same settings written again (only the time differs) restart nothing.
            mark = len(host.events)
            await writer.put([replace(host.running["l3"], updated_at_ms=1)])
            await writer.put([link("l7")])  # a marker: once it runs, l3's record was read
            await only({"l7"}, mark, {"l1", "l2", "l3", "l5", "l6", "l7"})
            assert assignment.owned == frozenset(host.running)
        assert host.running == {}  # a clean stop stops every link
    assert overlaps(host.events) == []


async def _true(value: bool) -> bool:
    return value


async def test_two_members_split_the_links_without_sharing_one(
    kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    topic, group = await _links_topic(kafka_bootstrap, kafka_names, partitions=4)
    ids = {f"l{i}" for i in range(40)}
    async with LinkWriter(kafka_bootstrap, topic) as writer:
        await writer.put([link(i) for i in sorted(ids)])
    async with member(kafka_bootstrap, topic, group, "a") as (_, a):
        await wait_until(running(a)(ids), within=WITHIN, what="a runs every link")
        async with member(kafka_bootstrap, topic, group, "b") as (_, b):

            async def split() -> bool:
                return set(a.running) | set(b.running) == ids and bool(a.running and b.running)

            await wait_until(split, within=WITHIN, what="a and b share the links")
            assert not set(a.running) & set(b.running)
            # a stopped exactly the links b took, and restarted none.
            assert {e.link_id for e in a.events if e.kind == "stop"} == set(b.running)
            assert len([e for e in a.events if e.kind == "start"]) == len(ids)
        await wait_until(running(a)(ids), within=WITHIN, what="a takes every link back")
    assert overlaps(a.events + b.events) == []


class MemberProcess:
    """A member in its own process; its events arrive as JSON lines on stdout."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, events: list[Event]):
        self.name = name
        self.process = process
        self._reader = asyncio.create_task(self._read(events))

    @classmethod
    async def start(cls, name: str, args: list[str], events: list[Event]) -> MemberProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.sources.links.link_member",
            *args,
            name,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(name, process, events)

    async def _read(self, events: list[Event]) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            item = json.loads(line)
            events.append(Event(item["kind"], item["link"], item["member"], item["at"]))

    async def kill(self) -> float:
        """SIGKILL; returns a time by which the process was dead."""
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._reader
        return time.monotonic()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=WITHIN)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._reader


async def test_three_members_over_300_links_kill_one_add_one_never_share_a_link(
    kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    topic, group = await _links_topic(kafka_bootstrap, kafka_names, partitions=12)
    ids = {f"link-{i:03d}" for i in range(300)}
    async with LinkWriter(kafka_bootstrap, topic) as writer:
        await writer.put([link(i) for i in sorted(ids)])
    events: list[Event] = []
    dead: dict[str, float] = {}
    args = [kafka_bootstrap, topic, group]
    members = [await MemberProcess.start(name, args, events) for name in ("m1", "m2", "m3")]

    def all_owned_by(alive: set[str]) -> Callable[[], asyncio.Future[bool]]:
        async def check() -> bool:
            now = owners(events, frozenset(dead))
            return set(now) == ids and set().union(*now.values()) == alive

        return check  # type: ignore[return-value]

    try:
        await wait_until(all_owned_by({"m1", "m2", "m3"}), within=WITHIN, what="3 members")
        of_m2 = {link_id for link_id, held in owners(events).items() if held == {"m2"}}
        mark = len(events)
        dead["m2"] = await members[1].kill()
        started = time.monotonic()
        await wait_until(all_owned_by({"m1", "m3"}), within=WITHIN, what="m2's links moved")
        moved_after = time.monotonic() - started
        # The survivors started m2's links and stopped none of their own.
        assert [e for e in events[mark:] if e.kind == "stop"] == []
        assert {e.link_id for e in events[mark:]} == of_m2
        mark = len(events)
        members.append(await MemberProcess.start("m4", args, events))
        await wait_until(all_owned_by({"m1", "m3", "m4"}), within=WITHIN, what="m4 joined")
        # Only links that moved to m4 stopped; nothing stopped and started again in place.
        joined = events[mark:]
        to_m4 = {e.link_id for e in joined if e.kind == "start" and e.member == "m4"}
        assert {e.link_id for e in joined if e.kind == "stop"} == to_m4
        assert [e for e in joined if e.kind == "start" and e.member != "m4"] == []
        # Every link has exactly one owner, never two at once over the whole run.
        assert all(len(holders) == 1 for holders in owners(events, frozenset(dead)).values())
        assert overlaps(events, dead) == []
        print(f"m2's links owned again {moved_after:.1f} s after SIGKILL (session timeout 6 s)")
    finally:
        for running_member in members:
            await running_member.stop()
    assert owners(events, frozenset(dead)) == {}  # SIGTERM stopped every link

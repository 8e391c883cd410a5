"""Which poller instance ran which link when, from the link-status topic's whole history.

Each instance says ``running`` when it starts a link and ``released`` when it hands it back
(stopped for another instance, or at its own stop). A SIGKILLed instance says nothing: its
links died with it. So a link runs on two instances at once when one says ``running`` while
another's ``running`` stands, neither released nor ended by that instance's death. Timestamps
(one machine's wall clock) order the statements: an instance releases before the next one,
which waits for that release, starts the link.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from nightstream.schemas.compacted import read_records
from nightstream.schemas.records import LinkState, LinkStatusRecord
from nightstream.schemas.serde import make_serde


@dataclass
class Ownership:
    overlaps: int = 0
    """A link started on one instance while it still ran on another (alive) one."""
    moves: int = 0
    """A link started on another instance than the one that ran it last."""
    stopped: int = 0
    """Links an instance stopped until their user acts (none should be)."""
    links_by_owner: dict[str, int] = field(default_factory=dict)
    """How many links each instance ran at some point."""
    examples: list[str] = field(default_factory=list)


async def status_history(bootstrap: str, topic: str) -> list[LinkStatusRecord]:
    serde = make_serde("link_status", subject=f"{topic}-value")
    return [
        LinkStatusRecord.from_avro(serde.decode(record.value, topic=topic))
        for record in await read_records(bootstrap, topic)
        if record.value is not None
    ]


def judge_ownership(
    history: Iterable[LinkStatusRecord], deaths_ms: Mapping[str, Sequence[int]]
) -> Ownership:
    """``deaths_ms``: per instance, when it was SIGKILLed or found dead (wall-clock ms)."""
    result = Ownership()
    ran: dict[str, set[str]] = {}
    by_link: dict[str, list[LinkStatusRecord]] = {}
    for status in history:
        by_link.setdefault(status.link_id, []).append(status)
    for link_id, statuses in sorted(by_link.items()):
        running: dict[str, int] = {}
        last_owner: str | None = None
        for status in sorted(statuses, key=lambda s: s.updated_at_ms):
            owner, at = status.owner, status.updated_at_ms
            if status.state != LinkState.RUNNING:
                running.pop(owner, None)
                result.stopped += status.state == LinkState.STOPPED
                continue
            for other, since in list(running.items()):
                if other == owner or _died(deaths_ms.get(other, ()), since, at):
                    del running[other]
                    continue
                result.overlaps += 1
                if len(result.examples) < 5:
                    result.examples.append(f"{link_id} started on {owner} while on {other}")
            result.moves += last_owner is not None and last_owner != owner
            running[owner] = at
            last_owner = owner
            ran.setdefault(owner, set()).add(link_id)
    result.links_by_owner = {owner: len(links) for owner, links in sorted(ran.items())}
    return result


def _died(deaths_ms: Sequence[int], after_ms: int, before_ms: int) -> bool:
    return any(after_ms <= death <= before_ms for death in deaths_ms)

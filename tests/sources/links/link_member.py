"""One poller instance's link assignment as its own process, for the kill/join test.

``python -m tests.sources.links.link_member BOOTSTRAP TOPIC GROUP MEMBER`` prints one JSON line
per link started or stopped; SIGTERM stops it cleanly, SIGKILL is the crash under test.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from nightstream.sources.link_assignment import AssignmentOptions, LinkAssignment
from tests.sources.links.assignment_kit import LINK_SERDE, Event, RecordingHost, handoffs_of


def _print(event: Event) -> None:
    line = {"kind": event.kind, "link": event.link_id, "member": event.member, "at": event.at}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def main(bootstrap: str, topic: str, group: str, member: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    options = AssignmentOptions(
        group_id=group, instance_id=member, session_timeout_ms=6_000, heartbeat_interval_ms=1_000
    )
    host = RecordingHost(member, on_event=_print)
    handoffs = handoffs_of(topic)
    await LinkAssignment(bootstrap, topic, LINK_SERDE, host, options, handoffs).run(stop)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))

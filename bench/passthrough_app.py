"""A minimal faust app: every record of one topic re-published unchanged to another.

    python -m bench.passthrough_app --bootstrap H:P --app-id ID --source T1 --sink T2

Configured like the processor's app (memory store, at-least-once, acks=all, earliest), and like
the processor it waits for Kafka's acknowledgement of what it sent before taking the next event.
It is the floor of what a faust agent costs per record on this broker.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import faust


def build_app(arguments: argparse.Namespace) -> Any:
    app = faust.App(
        arguments.app_id,
        broker=f"kafka://{arguments.bootstrap}",
        store="memory://",
        topic_partitions=arguments.partitions,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        producer_acks=-1,
    )
    source = app.topic(arguments.source, key_serializer="raw", value_serializer="raw")
    sink = app.topic(arguments.sink, key_serializer="raw", value_serializer="raw", internal=False)

    async def passthrough(stream: Any) -> AsyncIterator[None]:
        async for event in stream.events():
            sent = await sink.send(key=event.message.key, value=event.message.value)
            await sent
            yield None

    app.agent(source, name="passthrough")(passthrough)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough_app")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--partitions", type=int, default=3)
    arguments = parser.parse_args()
    app = build_app(arguments)
    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()

"""The processor's ceiling: every record of one topic re-published unchanged to another, batched.

    python -m bench.passthrough_app --bootstrap H:P --app-id ID --source T1 --sink T2

A plain aiokafka consumer group configured like the processor's (acks=all, idempotence, batch
size, earliest, manual commits, batch of records): consume a batch, send every record without
awaiting each (built into Kafka batches as the processor builds its documents'), await all
acknowledgements once, commit. No decoding, no transform, no state: what moving the bytes costs
on this broker, the most a processor could do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from nightstream.schemas.kafka_clients import kafka_consumer, kafka_producer
from nightstream.schemas.partition_batches import PartitionBatches
from nightstream.streams.processor import MAX_BATCH, PRODUCER_BATCH_BYTES


async def run(arguments: argparse.Namespace) -> None:
    producer = kafka_producer(
        arguments.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        max_batch_size=PRODUCER_BATCH_BYTES,
    )
    consumer = kafka_consumer(
        arguments.bootstrap,
        arguments.source,
        group_id=arguments.app_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=MAX_BATCH,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal_number, stop.set)
    await producer.start()
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                continue
            # The processor's own way to send (Kafka batches built here, one future each), each
            # record to the partition it came from (the sink has as many).
            batches = PartitionBatches(producer)
            for tp, messages in batch.items():
                for message in messages:
                    batches.add(arguments.sink, tp.partition, message.key, message.value)
            for submitted in await batches.send():
                await submitted.acknowledged
            await consumer.commit({tp: messages[-1].offset + 1 for tp, messages in batch.items()})
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough_app")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""A role that loses Kafka is started again after a backoff, with one line each time."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka.errors import KafkaConnectionError

from nightstream.roles import keep_running
from nightstream.schemas.backoff import RetryPolicy
from tests.timing import scaled

FAST = RetryPolicy(base=0.01, cap=0.02)


async def test_a_role_is_restarted_until_kafka_answers(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[int] = []

    async def role(stop: asyncio.Event) -> None:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")

    with caplog.at_level(logging.ERROR):
        await keep_running("sink-ns", role, asyncio.Event(), FAST)
    assert len(attempts) == 3
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert all(
        line.startswith("sink-ns: cannot reach Kafka (KafkaConnectionError)") for line in lines
    )


async def test_stopping_ends_the_wait_and_other_errors_are_not_swallowed() -> None:
    stop = asyncio.Event()

    async def unreachable(stop: asyncio.Event) -> None:
        raise KafkaConnectionError("down")

    waiting = asyncio.create_task(
        keep_running("poller", unreachable, stop, RetryPolicy(base=5, cap=5))
    )
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(waiting, timeout=scaled(2))

    async def broken(stop: asyncio.Event) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await keep_running("processor", broken, asyncio.Event(), FAST)

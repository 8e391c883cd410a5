"""A role that loses Kafka is started again after a backoff, with one line each time."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiokafka.errors import KafkaConnectionError

from nightstream import interruptible
from nightstream.roles import keep_running, run_roles
from nightstream.schemas.backoff import RetryPolicy
from nightstream.schemas.errors import NightstreamError
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


def test_a_role_that_fails_stops_the_others_as_sigterm_would() -> None:
    """``run``: the sink gives up (every site refused it); the poller and the processor finish
    what they hold rather than being cut off where they stand."""
    finished: list[str] = []

    async def sink(stop: asyncio.Event) -> None:
        await asyncio.sleep(0.05)
        raise NightstreamError("every site stopped")

    async def processor(stop: asyncio.Event) -> None:
        await stop.wait()
        await asyncio.sleep(0.05)  # its last commit
        finished.append("processor")

    started = time.monotonic()
    with pytest.raises(NightstreamError, match="every site stopped"):
        run_roles({"sink": sink, "processor": processor})
    assert finished == ["processor"]
    assert time.monotonic() - started < scaled(2)


def test_the_failure_is_kept_when_another_role_has_to_be_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(interruptible, "STOP_GRACE_SECONDS", 0.3)

    async def sink(stop: asyncio.Event) -> None:
        raise NightstreamError("every site stopped")

    async def deaf(stop: asyncio.Event) -> None:
        await asyncio.sleep(3600)  # does not look at ``stop``

    with pytest.raises(NightstreamError, match="every site stopped"):
        run_roles({"sink": sink, "poller": deaf})


async def test_a_kafka_request_cut_off_by_the_stop_is_not_announced_as_a_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()

    async def stopping(stop: asyncio.Event) -> None:
        stop.set()
        raise KafkaConnectionError("connection closed while stopping")

    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(keep_running("sink", stopping, stop, FAST), timeout=scaled(2))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []

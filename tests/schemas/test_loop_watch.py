"""The loop watch tells waiters how long a quarantine after a stop still lasts, so they sleep
through it once instead of polling."""

from __future__ import annotations

import asyncio
import time

from nightstream.schemas.fencing import LoopWatch
from tests.timing import scaled


async def test_after_a_stop_the_quarantine_left_counts_down_to_zero() -> None:
    frozen_after, quarantine = scaled(0.2), scaled(1.0)
    watch = LoopWatch(frozen_after=frozen_after, quarantine=quarantine, tick=scaled(0.02))
    watching = asyncio.create_task(watch.run())
    try:
        await asyncio.sleep(scaled(0.05))
        assert watch.quarantine_left() == 0.0
        time.sleep(frozen_after * 1.5)  # noqa: ASYNC251 (the loop stands still on purpose)
        assert watch.quarantine_left() > 0.0, "just waking up: not yet trusted"
        await asyncio.sleep(scaled(0.05))  # the watch notices the stop
        assert watch.freezes == 1
        left = watch.quarantine_left()
        assert quarantine * 0.5 < left <= quarantine
        await asyncio.sleep(left + scaled(0.05))
        assert watch.quarantine_left() == 0.0
        assert not watch.quarantined()
    finally:
        watching.cancel()

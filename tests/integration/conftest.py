"""Fixtures the end-to-end tests share: an isolated pipeline and a Nightscout test server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from nightstream.simulators.nightscout import NightscoutTestServer
from tests.integration.pipeline import Pipeline


@pytest.fixture
async def nightscout() -> AsyncIterator[NightscoutTestServer]:
    async with NightscoutTestServer(api_secret=os.urandom(12).hex()) as server:
        yield server


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    """Its roles are stopped at the end, whatever the test did."""
    running = Pipeline(kafka_bootstrap, tmp_path)
    yield running
    running.stop_all()

"""Session-wide test plumbing: the Kafka broker, scaled timeouts, no leftover processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.child_processes import kill_all
from tests.timing import scaled

pytest_plugins = ["tests.kafka_broker"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-timeout's limits, from pyproject.toml or a marker, times the time scale."""
    given = config.getoption("timeout", None)  # --timeout on the command line is taken as is
    default = 0.0 if given is not None else float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker and marker.args else default
        if seconds > 0:
            item.add_marker(pytest.mark.timeout(scaled(seconds)), append=False)


@pytest.fixture(autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    yield
    left = kill_all()
    assert not left, f"the test left processes running (killed now): {left}"

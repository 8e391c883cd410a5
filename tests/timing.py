"""Every wall-clock limit in the tests comes from here: ``scaled(seconds)``.

``NIGHTSTREAM_TEST_TIME_SCALE`` multiplies them all. The default (2) lets a 2-core machine whose
cores are both busy with other work pass; a slower or busier machine sets a larger factor. Limits
are bounds on waiting for a condition (polled), never fixed sleeps, so a larger factor only
makes a broken build fail later, never a correct one slower. pytest-timeout's limits (the
``timeout`` in pyproject.toml and ``@pytest.mark.timeout``) are scaled too (tests/conftest.py).
"""

from __future__ import annotations

import os

ENV = "NIGHTSTREAM_TEST_TIME_SCALE"
DEFAULT_SCALE = 2.0


def time_scale() -> float:
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_SCALE
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV}={text!r} is not a number") from None
    if not value > 0:
        raise ValueError(f"{ENV} must be > 0, got {text!r}")
    return value


def scaled(seconds: float) -> float:
    """``seconds`` on this machine: a limit, not a delay."""
    return seconds * time_scale()

"""The installed nightstream version, stamped on raw envelopes and dead letters."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def app_version() -> str:
    try:
        return version("nightstream")
    except PackageNotFoundError:
        return "0+unknown"

"""Where the local broker keeps its jars and, by default, its data."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "nightstream"
CACHE_ENV = "NIGHTSTREAM_CACHE"
DATA_ENV = "NIGHTSTREAM_DATA"


def cache_root() -> Path:
    """The user cache directory (``~/.cache/nightstream`` on Linux), or ``$NIGHTSTREAM_CACHE``."""
    given = os.environ.get(CACHE_ENV, "").strip()
    return Path(given) if given else Path(platformdirs.user_cache_dir(APP))


def data_root() -> Path:
    """The user data directory (``~/.local/share/nightstream`` on Linux), or
    ``$NIGHTSTREAM_DATA``."""
    given = os.environ.get(DATA_ENV, "").strip()
    return Path(given) if given else Path(platformdirs.user_data_dir(APP))

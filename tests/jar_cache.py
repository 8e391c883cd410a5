"""A cache directory of a test's own that shares the broker's jars with the real cache, so a
test can see what a command writes there without fetching 50 MB again."""

from __future__ import annotations

import shutil
from pathlib import Path

from nightstream.local_kafka.jars import fetch_jars, kafka_home, read_lock


def cache_with_jars(root: Path) -> Path:
    """``root/cache`` with the broker's jars (linked from the user cache, fetched if needed)."""
    lock = read_lock()
    fetch_jars(print, lock)
    cache = root / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / kafka_home(lock).name).symlink_to(kafka_home(lock), target_is_directory=True)
    return cache


def cache_missing_one_jar(root: Path) -> tuple[Path, str]:
    """``root/cache`` holding every jar but one (copied); the cache and the missing jar."""
    lock = read_lock()
    source = fetch_jars(print, lock)
    cache = root / "cache"
    libs = cache / kafka_home(lock).name / "libs"
    libs.mkdir(parents=True)
    missing = lock.jars[-1].file_name
    for jar in lock.jars[:-1]:
        shutil.copyfile(source / jar.file_name, libs / jar.file_name)
    return cache, missing

"""The broker's jars: fetched once from Maven Central as ``jars.lock`` names them, checked
against their SHA-256, kept in the user cache directory. No Maven needed."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx

from nightstream.local_kafka.paths import cache_root

REPOSITORY_ENV = "NIGHTSTREAM_MAVEN_REPOSITORY"
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
_CHUNK = 1 << 16

Progress = Callable[[str], None]


class JarFetchError(Exception):
    """A jar could not be fetched or did not match its lock entry."""


@dataclass(frozen=True)
class Jar:
    group: str
    artifact: str
    version: str
    size: int
    sha256: str

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    def url(self, repository: str) -> str:
        path = "/".join([*self.group.split("."), self.artifact, self.version, self.file_name])
        return f"{repository.rstrip('/')}/{path}"


@dataclass(frozen=True)
class JarLock:
    kafka_version: str
    jars: tuple[Jar, ...]
    digest: str
    """Of the lock's text: a cache made for another lock is checked again."""

    @property
    def total_bytes(self) -> int:
        return sum(jar.size for jar in self.jars)


def read_lock() -> JarLock:
    text = resources.files(__package__).joinpath("jars.lock").read_text(encoding="utf-8")
    version, jars = "", []
    for line in text.splitlines():
        if line.startswith("# kafka "):
            version = line.split()[2].rstrip(":")
        if not line.strip() or line.startswith("#"):
            continue
        coordinates, size, sha256 = line.split()
        group, artifact, jar_version = coordinates.split(":")
        jars.append(Jar(group, artifact, jar_version, int(size), sha256))
    if not version or not jars:
        raise JarFetchError("jars.lock names no Kafka version or no jar: the package is broken")
    return JarLock(version, tuple(jars), hashlib.sha256(text.encode()).hexdigest())


def kafka_home(lock: JarLock) -> Path:
    return cache_root() / f"kafka-{lock.kafka_version}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _intact(path: Path, jar: Jar) -> bool:
    return path.is_file() and path.stat().st_size == jar.size and _sha256(path) == jar.sha256


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One fetch at a time per cache (two test sessions, a demo and a run)."""
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(client: httpx.Client, url: str, jar: Jar, target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with client.stream("GET", url) as answer:
            if answer.status_code != 200:
                raise JarFetchError(f"{url}: HTTP {answer.status_code}")
            with partial.open("wb") as file:
                for chunk in answer.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    file.write(chunk)
        if digest.hexdigest() != jar.sha256:
            raise JarFetchError(f"{url}: SHA-256 differs from jars.lock (a corrupt download?)")
        partial.replace(target)
    except httpx.HTTPError as exc:
        raise JarFetchError(f"{url}: {type(exc).__name__} {exc}".rstrip()) from None
    finally:
        partial.unlink(missing_ok=True)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def fetch_jars(progress: Progress, lock: JarLock | None = None) -> Path:
    """The directory holding every jar of the lock, fetching the missing ones first (one
    progress line per jar). Raises JarFetchError."""
    lock = lock or read_lock()
    home = kafka_home(lock)
    libs, marker = home / "libs", home / "libs.complete"
    if marker.is_file() and marker.read_text().strip() == lock.digest:
        return libs
    libs.mkdir(parents=True, exist_ok=True)
    with _exclusive(home / ".lock"):
        if marker.is_file() and marker.read_text().strip() == lock.digest:
            return libs
        missing = [jar for jar in lock.jars if not _intact(libs / jar.file_name, jar)]
        if missing:
            repository = os.environ.get(REPOSITORY_ENV, "").strip() or MAVEN_CENTRAL
            progress(
                f"fetching the Kafka {lock.kafka_version} jars: {len(missing)} of "
                f"{len(lock.jars)} ({_megabytes(sum(j.size for j in missing))}) from "
                f"{repository} into {libs} (once)"
            )
            timeout = httpx.Timeout(60, connect=15)
            with httpx.Client(timeout=timeout, follow_redirects=True) as client:
                for number, jar in enumerate(missing, start=1):
                    progress(
                        f"  [{number}/{len(missing)}] {jar.file_name} ({_megabytes(jar.size)})"
                    )
                    _download(client, jar.url(repository), jar, libs / jar.file_name)
        wanted = {jar.file_name for jar in lock.jars}
        for stale in libs.iterdir():
            if stale.name not in wanted:
                stale.unlink()
        marker.write_text(lock.digest + "\n")
    return libs

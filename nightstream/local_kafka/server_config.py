"""The broker's server.properties and JVM flags, per profile.

``small``: one person's broker next to ``nightstream run`` (or the demo) on a small machine:
few threads, a small heap, production-like housekeeping intervals. ``dev``: the test suite's and
benchmarks' broker, where compaction and retention must be observable within seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

Profile = Literal["small", "dev"]
PROFILES: tuple[Profile, ...] = ("small", "dev")

# One node: internal topics must fit on it, or group joins and InitProducerId never succeed.
_SINGLE_NODE = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "num.partitions": "1",
    "auto.create.topics.enable": "true",
    # Groups form at once: there is nobody else to wait for.
    "group.initial.rebalance.delay.ms": "0",
}

_SMALL = {
    # Thread pools sized for one client process instead of a cluster's traffic.
    "num.network.threads": "1",
    "num.io.threads": "2",
    "background.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "log.cleaner.threads": "1",
    "queued.max.requests": "100",
    # The cleaner's dedupe map is allocated whole (128 MB by default): 4 MB holds ~100,000
    # keys per pass, more than one person's compacted topics ever have.
    "log.cleaner.dedupe.buffer.size": "4194304",
    "log.cleaner.io.buffer.size": "262144",
    # The active controller appends a no-op record every 500 ms by default (a write and an
    # fsync of the metadata log): with one node there is no follower to keep alive.
    "metadata.max.idle.interval.ms": "0",
    # Index files are created at their maximum size (sparse) and mapped: smaller maps.
    "log.index.size.max.bytes": "1048576",
    "log.segment.bytes": "67108864",
}

_DEV = {
    "group.min.session.timeout.ms": "1000",
    # Compaction observable within seconds: topics set segment.ms / min.cleanable.dirty.ratio
    # low, the cleaner re-checks every second. A small dedupe buffer keeps it inside the heap.
    "log.cleaner.enable": "true",
    "log.cleaner.backoff.ms": "1000",
    "log.cleaner.dedupe.buffer.size": "33554432",
    "log.segment.delete.delay.ms": "1000",
    # Time/size retention enforced within 10 s instead of 5 min.
    "log.retention.check.interval.ms": "10000",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
}

# Flags from Kafka's own start scripts, with a heap to match the profile.
_JVM_COMMON = ["-server", "-Djava.awt.headless=true", "-XX:+ExplicitGCInvokesConcurrent"]
_JVM = {
    "small": [
        "-Xms24m",
        "-Xmx160m",
        # One GC thread, no concurrent marking threads; pauses do not matter at this size.
        "-XX:+UseSerialGC",
        # The first JIT tier only: far less compiler memory and CPU, plenty fast for one person.
        "-XX:TieredStopAtLevel=1",
        "-XX:ReservedCodeCacheSize=32m",
        # Thread pools that size themselves by core count (GC, fork-join, netty) stay small.
        "-XX:ActiveProcessorCount=1",
        "-Xss512k",
        "-Djdk.nio.maxCachedBufferSize=262144",
    ],
    "dev": [
        "-Xmx512m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:MaxInlineLevel=15",
    ],
}


def server_properties(
    directory: Path,
    port: int,
    controller_port: int,
    profile: Profile,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """Every property of the broker running from ``directory``; ``extra`` (another listener,
    say) goes over the profile's. In its values ``{port}``, ``{controller_port}`` and ``{dir}``
    stand for the broker's, so that ``listeners`` can be given whole:
    ``PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},SASL_SSL://...``."""
    listeners = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(directory / "data"),
    }
    tuning = _SMALL if profile == "small" else _DEV
    places = {
        "{port}": str(port),
        "{controller_port}": str(controller_port),
        "{dir}": str(directory),
    }
    given = {key: _fill(value, places) for key, value in extra.items()}
    return {**listeners, **_SINGLE_NODE, **tuning, **given}


def _fill(value: str, places: Mapping[str, str]) -> str:
    for place, actual in places.items():
        value = value.replace(place, actual)
    return value


def render(properties: Mapping[str, str]) -> str:
    lines = ["# Written by nightstream.local_kafka on every start; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in properties.items()]
    return "\n".join(lines) + "\n"


def read_properties(path: Path) -> dict[str, str]:
    """A properties file's ``key=value`` lines (no continuations or escapes: ours have none)."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def jvm_flags(profile: Profile) -> list[str]:
    return [*_JVM[profile], *_JVM_COMMON]

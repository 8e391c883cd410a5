"""What ``nightstream config check`` prints: counts and problems, not a line per link."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from nightstream.config import Settings

_SHOWN = 5


def _few(names: Iterable[str]) -> str:
    names = sorted(names)
    more = f" (+{len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items())) or "none"


def summary_lines(settings: Settings) -> list[str]:
    links, targets = settings.links, settings.targets
    lines = [
        f"configuration is valid: {len(links)} link(s), {len(targets)} target(s), "
        f"Kafka at {settings.kafka.bootstrap_servers}",
        f"  links per vendor: {_counts(Counter(link.vendor for link in links))}",
        f"  targets per API version: {_counts(Counter(t.api_version for t in targets.values()))}",
    ]
    per_target = Counter(name for link in links for name in link.targets)
    if targets:
        counts = sorted(per_target.get(name, 0) for name in targets)
        lines.append(
            f"  links per target: min {counts[0]}, median {counts[len(counts) // 2]}, "
            f"max {counts[-1]}"
        )
    unused = [name for name in targets if per_target.get(name, 0) == 0]
    problems = []
    if unused:
        problems.append(
            f"{len(unused)} target(s) named by no link of this file: {_few(unused)} (they "
            "receive only what links on the links topic send them)"
        )
    lines.append(f"  problems: {len(problems)}")
    lines += [f"  - {problem}" for problem in problems]
    return lines


def listing_lines(settings: Settings) -> list[str]:
    lines = [
        f"  link {link.id}: {link.vendor} -> {', '.join(link.targets)}" for link in settings.links
    ]
    lines += [
        f"  target {name}: {target.url} (API {target.api_version})"
        for name, target in settings.targets.items()
    ]
    return lines

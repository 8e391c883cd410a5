"""``config check`` summarises: counts per vendor and target, and the problems, not every link."""

from __future__ import annotations

from typing import Any

from nightstream.config import Settings
from nightstream.config_summary import listing_lines, summary_lines


def _settings(links: int, targets: int) -> Settings:
    data: dict[str, Any] = {
        "targets": {
            f"t{i}": {"url": f"https://t{i}.example.org", "token": "x"} for i in range(targets)
        },
        "links": [
            {
                "id": f"l{i}",
                "vendor": "librelinkup" if i % 4 == 0 else "dexcomshare",
                "username": "u",
                "password": "p",
                "targets": [f"t{i % 3}"],
            }
            for i in range(links)
        ],
    }
    return Settings(**data)


def test_the_summary_counts_and_names_targets_that_receive_nothing() -> None:
    lines = summary_lines(_settings(links=1000, targets=10))
    assert lines[0].startswith("configuration is valid: 1000 link(s), 10 target(s)")
    assert "  links per vendor: dexcomshare 750, librelinkup 250" in lines
    assert "  links per target: min 0, median 0, max 334" in lines
    assert "  problems: 1" in lines
    assert lines[-1].startswith(
        "  - 7 target(s) named by no link of this file: t3, t4, t5, t6, t7 (+2 more)"
    )
    assert len(lines) < 10


def test_the_listing_has_a_line_per_link_and_target_only_on_request() -> None:
    settings = _settings(links=5, targets=3)
    assert summary_lines(settings)[-1] == "  problems: 0"
    listing = listing_lines(settings)
    assert len(listing) == 8
    assert "  link l0: librelinkup -> t0" in listing

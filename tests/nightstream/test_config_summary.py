"""``config check`` summarises: counts per vendor and target, and the problems, not every link."""

from __future__ import annotations

from typing import Any

from nightstream.config import LinkSettings, Settings, TargetSettings
from nightstream.config_summary import listing_lines, summary_lines


def _data(links: int, targets: int) -> dict[str, Any]:
    return {
        "targets": {
            f"t{i}": {"url": f"https://t{i}.example.org", "token": "x"} for i in range(targets)
        },
        "links": [
            {
                "id": f"l{i}",
                "vendor": "librelinkup" if i % 4 == 0 else "dexcomshare",
                "username": "u",
                "password": "p",
                "targets": [f"t{i % targets}"],
            }
            for i in range(links)
        ],
    }


def test_the_summary_counts_links_per_vendor_and_target() -> None:
    lines = summary_lines(Settings(**_data(links=1000, targets=3)))
    assert lines[0].startswith("configuration is valid: 1000 link(s), 3 target(s)")
    assert "  links per vendor: dexcomshare 750, librelinkup 250" in lines
    assert "  links per target: min 333, median 333, max 334" in lines
    assert lines[-1] == "  problems: 0"
    assert len(lines) < 10


UNUSED = {"url": "https://unused.example.org", "token": "x"}


def test_targets_named_by_no_file_link_are_a_problem_named_in_one_line() -> None:
    # Built without validation: the configuration's own rules may refuse such a file outright.
    data = _data(links=30, targets=3)
    settings = Settings.model_construct(
        targets={
            **{k: TargetSettings(**v) for k, v in data["targets"].items()},
            **{f"u{i}": TargetSettings.model_validate(UNUSED) for i in range(7)},
        },
        links=[LinkSettings(**link) for link in data["links"]],
    )
    lines = summary_lines(settings)
    assert "  problems: 1" in lines
    assert lines[-1].startswith(
        "  - 7 target(s) named by no link of this file: u0, u1, u2, u3, u4 (+2 more)"
    )


def test_the_listing_has_a_line_per_link_and_target_only_on_request() -> None:
    settings = Settings(**_data(links=5, targets=3))
    listing = listing_lines(settings)
    assert len(listing) == 8
    assert "  link l0: librelinkup -> t0" in listing

"""The progress line of replay and reprocess."""

from __future__ import annotations

import io

from nightstream.progress import Progress, format_duration, progress_line


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_has_counts_share_rate_and_time_left() -> None:
    assert progress_line(4000, 8640, 5.0, "docs") == (
        "4 000/8 640 docs (46.3 %), 800 docs/s, ETA 0:06"
    )


def test_done_and_unknown_rates() -> None:
    assert progress_line(8640, 8640, 2.0, "docs").endswith("4 320 docs/s, done")
    assert progress_line(0, 10, 0.0, "payloads").endswith("0 payloads/s, ETA unknown")
    assert progress_line(0, 0, 0.0, "docs") == "0/0 docs, 0 docs/s, done"


def test_durations() -> None:
    assert format_duration(59.6) == "1:00"
    assert format_duration(3 * 3600 + 62) == "3:01:02"


def test_on_a_terminal_the_line_redraws_in_place() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress(10, out, tty=True, clock=clock)
    clock.now += 1
    progress.show(5)
    progress.finish(10)
    assert out.getvalue() == (
        "\r5/10 docs (50.0 %), 5 docs/s, ETA 0:01\x1b[K"
        "\r10/10 docs (100.0 %), 10 docs/s, done\x1b[K\n"
    )


def test_elsewhere_one_plain_line_per_interval() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress(10, out, tty=False, clock=clock)
    clock.now += 2
    progress.show(4)
    progress.finish(10)
    assert out.getvalue().splitlines() == [
        "4/10 docs (40.0 %), 2 docs/s, ETA 0:03",
        "10/10 docs (100.0 %), 5 docs/s, done",
    ]
    assert progress.interval_s == 10.0

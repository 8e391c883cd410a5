"""The README's first command, as a newcomer runs it (on the session's broker)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.timing import scaled

pytestmark = pytest.mark.kafka


def test_the_demo_lands_every_patient_once(kafka_bootstrap: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIGHTSTREAM_", "NIGHTSCOUT"))}
    env["KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    finished = subprocess.run(
        [sys.executable, "-m", "nightstream.demo", "--exit-when-landed", "--timeout", "120"],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(180),
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    rows = re.findall(r"^  (\S+)\s+(\d+) readings, duplicates (\d+)", finished.stdout, re.M)
    landed = {link: (int(n), int(d)) for link, n, d in rows}
    assert set(landed) == {"patient-1", "patient-2", "patient-3", "libre-1"}
    assert all(landed[f"patient-{n}"] == (288, 0) for n in (1, 2, 3))
    readings, duplicates = landed["libre-1"]
    assert duplicates == 0
    assert 130 <= readings <= 145  # a 12 h graph every 5 min, behind its lag, plus the current

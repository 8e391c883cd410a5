"""The LICENSE file is the licence pyproject.toml declares, in the FSF's words, unaltered."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# SHA-256 of the FSF's plain-text GNU AGPL v3 (agpl-3.0.txt), as the choosealicense list ships
# it; its words match the SPDX list's AGPL-3.0-or-later text.
AGPL_3_SHA256 = "8486a10c4393cee1c25392769ddd3b2d6c242d6ec7928e1414efff7dfb2f07ef"


def test_the_declared_licence_is_agpl_3_or_later_with_its_file() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE"]


def test_license_is_the_unaltered_agpl_3_text() -> None:
    text = (REPO / "LICENSE").read_bytes()
    assert text.startswith(b"                    GNU AFFERO GENERAL PUBLIC LICENSE\n")
    assert b"Version 3, 19 November 2007" in text[:200]
    assert hashlib.sha256(text).hexdigest() == AGPL_3_SHA256

"""The layering rule: schemas imports none of the pipeline; sources, streams and sinks import
schemas and never each other; only the ``nightstream`` entry point wires them together."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("sources", "streams", "sinks")
FORBIDDEN = {
    "schemas": {"sources", "streams", "sinks", "nightstream"},
    "sources": {"streams", "sinks", "nightstream"},
    "streams": {"sources", "sinks", "nightstream"},
    "sinks": {"sources", "streams", "nightstream"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def violations(package: str) -> list[str]:
    problems = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_packages(path) & FORBIDDEN[package]
        if bad:
            problems.append(f"{path.relative_to(REPO)} imports {', '.join(sorted(bad))}")
    return problems


def test_layering_holds() -> None:
    problems = [p for package in FORBIDDEN for p in violations(package)]
    assert problems == []


def test_the_rule_detects_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import sinks.nightscout\nfrom streams.transform import Rejected\n")
    assert imported_packages(module) & FORBIDDEN["sources"] == {"sinks", "streams"}

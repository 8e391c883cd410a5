"""The layering rule: schemas imports none of the pipeline; sources, streams and sinks import
schemas and never each other; only the ``nightstream`` entry point wires them together. The
simulators and the test server stand beside the production path: they may read the vendor
protocols in ``sources`` but nothing on the production path imports them."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ("schemas", "sources", "streams", "sinks", "simulators")
FORBIDDEN = {
    "schemas": {"sources", "streams", "sinks", "simulators", "nightstream"},
    "sources": {"streams", "sinks", "simulators", "nightstream"},
    "streams": {"sources", "sinks", "simulators", "nightstream"},
    "sinks": {"sources", "streams", "simulators", "nightstream"},
    "simulators": {"streams", "sinks", "nightstream"},
}


def part_of(module: str) -> str:
    """``nightstream.sinks.x`` -> ``sinks``; the entry point's own modules -> ``nightstream``."""
    names = module.split(".")
    if names[0] != "nightstream":
        return names[0]
    return names[1] if len(names) > 1 and names[1] in PARTS else "nightstream"


def imported_parts(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(part_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "nightstream":
                found.update(part_of(f"nightstream.{alias.name}") for alias in node.names)
            else:
                found.add(part_of(node.module))
    return found


def violations(part: str) -> list[str]:
    problems = []
    for path in sorted((REPO / part).rglob("*.py")):
        bad = imported_parts(path) & FORBIDDEN[part]
        if bad:
            problems.append(f"{path.relative_to(REPO)} imports {', '.join(sorted(bad))}")
    return problems


def test_layering_holds() -> None:
    problems = [p for part in FORBIDDEN for p in violations(part)]
    assert problems == []


def test_the_rule_detects_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import nightstream.sinks.nightscout\n"
        "from nightstream.streams.transform import Rejected\n"
        "from nightstream import simulators\n"
        "from nightstream.roles import build_delivery_role\n"
    )
    found = imported_parts(module)
    assert found & FORBIDDEN["sources"] == {"sinks", "streams", "simulators", "nightstream"}

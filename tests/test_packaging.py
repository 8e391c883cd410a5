"""pyproject.toml lists every package of the tree, each under the name it is installed as."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _setuptools() -> dict[str, Any]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    table: dict[str, Any] = pyproject["tool"]["setuptools"]
    return table


def installed_name(folder: Path, package_dir: dict[str, str]) -> str:
    """``sinks/nightscout`` -> ``nightstream.sinks.nightscout``, through ``package-dir``."""
    relative = folder.relative_to(REPO).parts
    for name, where in package_dir.items():
        root = Path(where).parts
        if relative[: len(root)] == root:
            return ".".join([name, *relative[len(root) :]])
    raise AssertionError(f"{folder} is in no package-dir folder")


def tree_packages(package_dir: dict[str, str]) -> set[str]:
    """Each folder of the package-dir roots that holds an ``__init__.py`` or Avro schemas (data
    folders setuptools would otherwise warn about, one warning each), by installed name."""
    found = set()
    for where in set(package_dir.values()):
        for marker in ("__init__.py", "*.avsc"):
            for path in (REPO / where).rglob(marker):
                found.add(installed_name(path.parent, package_dir))
    schemas = REPO / package_dir["nightstream.schemas"] / "avro"
    found.add(installed_name(schemas, package_dir))
    return found


def test_every_package_of_the_tree_is_listed() -> None:
    table = _setuptools()
    assert sorted(table["packages"]) == sorted(tree_packages(table["package-dir"]))

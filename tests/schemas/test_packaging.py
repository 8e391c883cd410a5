"""The package data globs in pyproject.toml cover every schema file, so a wheel ships them all.

The first release's glob (``avro/*.avsc``) matched none of ``avro/<name>/v<N>.avsc``: installed
from the wheel, every command failed with "no schema named 'entry'".
"""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_schema_file_is_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["schemas"]
    package = REPO / "schemas"
    shipped = {path for pattern in globs for path in package.glob(pattern)}
    on_disk = set(package.rglob("*.avsc"))
    assert on_disk, "no schema files found"
    assert on_disk - shipped == set()


def test_every_folder_of_code_is_a_package_the_wheel_finds() -> None:
    """``packages.find`` skips a folder without ``__init__.py``: its modules would be missing
    from an installed nightstream."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    roots = [
        name.rstrip("*") for name in config["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    folders = {
        path.parent
        for root in roots
        for path in (REPO / root).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert [f for f in sorted(folders) if not (f / "__init__.py").exists()] == []

"""What pyproject.toml declares is what a wheel ships, under the one ``nightstream`` namespace.

The first release's glob (``avro/*.avsc``) matched none of ``avro/<name>/v<N>.avsc``: installed
from the wheel, every command failed with "no schema named 'entry'". It also installed generic
top-level packages (``schemas``, ``sources``, ...) into site-packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def setuptools_config() -> dict[str, Any]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    section: dict[str, Any] = config["tool"]["setuptools"]
    return section


def test_every_schema_file_is_package_data() -> None:
    globs = setuptools_config()["package-data"]["nightstream.schemas"]
    package = REPO / setuptools_config()["package-dir"]["nightstream.schemas"]
    shipped = {path for pattern in globs for path in package.glob(pattern)}
    on_disk = set(package.rglob("*.avsc"))
    assert on_disk, "no schema files found"
    assert on_disk - shipped == set()


def test_every_package_is_under_the_nightstream_namespace() -> None:
    config = setuptools_config()
    names = [*config["packages"], *config["package-dir"]]
    assert [name for name in names if name.split(".")[0] != "nightstream"] == []


def test_checkout_links_give_the_installed_names() -> None:
    """``nightstream/<folder>`` links to the top-level folder the wheel maps it from, so a
    checkout imports, type-checks and tests the same module names an installed copy has."""
    for package, folder in setuptools_config()["package-dir"].items():
        if package == "nightstream":
            continue
        link = REPO / package.replace(".", "/")
        assert link.is_symlink(), f"{link.relative_to(REPO)} should link to ../{folder}"
        assert link.resolve() == (REPO / folder).resolve()


def test_every_folder_of_code_is_a_package_the_wheel_finds() -> None:
    """``packages.find`` skips a folder without ``__init__.py``: its modules would be missing
    from an installed nightstream."""
    folders = {
        path.parent
        for folder in setuptools_config()["package-dir"].values()
        for path in (REPO / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert [f for f in sorted(folders) if not (f / "__init__.py").exists()] == []


def test_every_module_imports_by_its_installed_name(tmp_path: Path) -> None:
    """Outside the checkout only ``nightstream.*`` exists: a module still naming a top-level
    ``schemas``/``sources``/... (in an import or a resource lookup) fails to import here."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import nightstream\n"
        "names = [m.name for m in pkgutil.walk_packages(nightstream.__path__, 'nightstream.')]\n"
        "for name in names:\n"
        "    if not name.endswith('__main__'):\n"
        "        importlib.import_module(name)\n"
        "from nightstream.schemas.catalog import schema_family\n"
        "schema_family('entry')\n"
        "stray = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'schemas', 'sources', 'streams', 'sinks', 'simulators'})\n"
        "print(len(names), stray)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    count, stray = run.stdout.split(" ", 1)
    assert int(count) > 100
    assert stray.strip() == "[]"

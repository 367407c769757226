"""Imports flow one way: api/cli → services → queries/maps → layers → rules/crs/db → settings/errors."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "geo_safety"

# module prefix → prefixes it must never import
FORBIDDEN = {
    # the app factory opens the pool (db); routers only call services
    "geo_safety.api": ("geo_safety.layers", "geo_safety.queries", "geo_safety.localdb"),
    "geo_safety.api.routers": ("geo_safety.db",),
    "geo_safety.maps": ("geo_safety.db", "geo_safety.services", "geo_safety.api", "geo_safety.queries"),
    "geo_safety.services": ("geo_safety.api", "geo_safety.cli"),
    "geo_safety.layers": ("geo_safety.services", "geo_safety.api", "geo_safety.db", "geo_safety.cli"),
    "geo_safety.rules": ("geo_safety.layers", "geo_safety.services", "geo_safety.api", "geo_safety.db"),
    "geo_safety.crs": ("geo_safety.layers", "geo_safety.services", "geo_safety.api", "geo_safety.db"),
    "geo_safety.area": ("geo_safety.layers", "geo_safety.services", "geo_safety.api", "geo_safety.db"),
    "geo_safety.shapes": (
        "geo_safety.services",
        "geo_safety.api",
        "geo_safety.db",
        "geo_safety.queries",
        "geo_safety.layers",
        "geo_safety.maps",
        "geo_safety.cli",
    ),
    "geo_safety.settings": ("geo_safety",),
    "geo_safety.errors": ("geo_safety",),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_import_direction() -> None:
    problems = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for prefix, banned in FORBIDDEN.items():
            if module == prefix or module.startswith(prefix + "."):
                for name in _imports(path):
                    if any(name == b or name.startswith(b + ".") for b in banned):
                        problems.append(f"{module} imports {name}")
    assert problems == []


def test_the_checker_sees_both_import_forms(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from geo_safety.db import make_engine\nimport geo_safety.layers.schools\n")
    assert {"geo_safety.db", "geo_safety.layers.schools"} <= _imports(bad)


def test_migrations_are_frozen_snapshots() -> None:
    """An old revision must mean today what it meant when written: it imports nothing from the package."""
    problems = [
        f"{path.name} imports {name}"
        for path in (PACKAGE / "migrations" / "versions").glob("*.py")
        for name in _imports(path)
        if name == "geo_safety" or name.startswith("geo_safety.")
    ]
    assert problems == []

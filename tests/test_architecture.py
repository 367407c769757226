"""Imports flow one way: api/cli → services → sql/maps → layers → rules/crs/db → settings/errors."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "geo_safety"

# module prefix → prefixes it must never import
FORBIDDEN = {
    # the app factory opens the pool (db); routers only call services
    "geo_safety.api": ("geo_safety.layers", "geo_safety.sql", "geo_safety.localdb"),
    "geo_safety.api.routers": ("geo_safety.db",),
    "geo_safety.maps": ("geo_safety.db", "geo_safety.services", "geo_safety.api", "geo_safety.sql"),
    "geo_safety.services": ("geo_safety.api", "geo_safety.cli"),
    "geo_safety.layers": ("geo_safety.services", "geo_safety.api", "geo_safety.db", "geo_safety.cli"),
    "geo_safety.rules": ("geo_safety.layers", "geo_safety.services", "geo_safety.api", "geo_safety.db"),
    "geo_safety.crs": ("geo_safety.layers", "geo_safety.services", "geo_safety.api", "geo_safety.db"),
    "geo_safety.area": ("geo_safety.layers", "geo_safety.services", "geo_safety.api", "geo_safety.db"),
    "geo_safety.shapes": (
        "geo_safety.services",
        "geo_safety.api",
        "geo_safety.db",
        "geo_safety.sql",
        "geo_safety.layers",
        "geo_safety.maps",
        "geo_safety.cli",
    ),
    # the statements the services run (the spatial reads among them): below every caller
    "geo_safety.sql": ("geo_safety.services", "geo_safety.api", "geo_safety.cli", "geo_safety.maps"),
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


# -- SQL lives in geo_safety/sql ------------------------------------------------------------------------------------
#: What ``geo_safety.sql`` may import from the package: the levels below it, and itself.
SQL_MAY_IMPORT = (
    "geo_safety.sql",
    "geo_safety.layers",
    "geo_safety.rules",
    "geo_safety.crs",
    "geo_safety.db",
    "geo_safety.settings",
    "geo_safety.errors",
)

#: Where SQL may be written, each for a reason: ``sql`` is its home; migrations are frozen DDL; the models of
#: ``layers`` declare their CHECKs and index expressions; ``localdb`` bootstraps the cluster (CREATE/DROP DATABASE
#: and CREATE EXTENSION on the maintenance database, before any schema exists). Every other module holds none.
SQL_HOMES = ("sql/", "migrations/", "layers/", "localdb.py")
WITHOUT_SQL = sorted(
    str(path.relative_to(PACKAGE))
    for path in PACKAGE.rglob("*.py")
    if not str(path.relative_to(PACKAGE)).startswith(SQL_HOMES)
)

#: The keywords that begin SQL text.
_SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|TRUNCATE|CREATE|DROP|ALTER|LOCK|ANALYZE|COPY)\s")
#: SQLite statements of the file formats a reader opens (MBTiles, GeoPackage): part of reading that format.
_SQLITE_FILE = re.compile(r"\b(FROM tiles|FROM metadata|FROM sqlite_master|pragma_table_xinfo)\b")


def _sql_in(path: Path) -> list[str]:
    """Where a module builds SQL itself: sqlalchemy ``text``, ``psycopg.sql``, or SQL in a string or f-string."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy", "sqlalchemy.sql", "psycopg"):
            names = {alias.name for alias in node.names} & {"text", "literal_column", "sql"}
            found += [f"{path.name}:{line} imports {name} from {node.module}" for name in sorted(names)]
        elif isinstance(node, ast.Import):
            found += [f"{path.name}:{line} imports {a.name}" for a in node.names if a.name == "psycopg.sql"]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            if name in ("text", "literal_column") and owner in ("", "sqlalchemy", "sa"):
                found.append(f"{path.name}:{line} calls {name}()")
            elif owner == "sql" and name in ("SQL", "Identifier", "Composed", "Literal"):
                found.append(f"{path.name}:{line} calls sql.{name}()")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _SQL_START.match(node.value)
            and not _SQLITE_FILE.search(node.value)
        ):
            found.append(f"{path.name}:{line} holds SQL text {node.value.strip()[:20]!r}")
    return found


def test_sql_package_imports_only_what_lies_below_it() -> None:
    problems = [
        f"{path.name} imports {name}"
        for path in (PACKAGE / "sql").rglob("*.py")
        for name in _imports(path)
        if name.startswith("geo_safety") and not any(name == ok or name.startswith(ok + ".") for ok in SQL_MAY_IMPORT)
    ]
    assert problems == []


def test_sql_lives_only_in_its_homes() -> None:
    """Statements live in ``geo_safety/sql``; services, routers, maps and the CLI keep transactions and logic."""
    assert "services/inspections.py" in WITHOUT_SQL and "cli.py" in WITHOUT_SQL and "api/app.py" in WITHOUT_SQL
    assert [problem for p in WITHOUT_SQL for problem in _sql_in(PACKAGE / p)] == []


def test_the_sql_checker_sees_each_form(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from sqlalchemy import Connection, text\n"
        "from psycopg import sql\n"
        "def f(conn, raw, tiles, path, table):\n"
        "    conn.execute(text('SELECT 1'))\n"
        "    raw.execute(sql.SQL('ANALYZE {}').format(sql.Identifier(table)))\n"
        "    conn.exec_driver_sql(f'SELECT count(*) FROM {table}')\n"
        "    raw.execute('''\n  UPDATE users SET name = %s''', ('x',))\n"
        "    tiles.execute('SELECT tile_data FROM tiles LIMIT 1')\n"
        "    path.write_text('Update the notes')\n"
    )
    found = "\n".join(_sql_in(bad))
    for expected in (
        "imports text from sqlalchemy",
        "imports sql from psycopg",
        "bad.py:4 calls text()",
        "bad.py:5 calls sql.SQL()",
        "bad.py:5 calls sql.Identifier()",
        "bad.py:6 holds SQL text 'SELECT count(*) FROM'",
        "bad.py:7 holds SQL text 'UPDATE users SET nam'",
    ):
        assert expected in found, found
    assert "bad.py:8" not in found  # the MBTiles statement of a tile file's reader
    assert "bad.py:9" not in found
    assert "Connection" not in found

"""Table and column names for SQL text: only names the schema knows, always quoted.

A name reaches a statement as an identifier only through here. The allowed names are the tables and columns of
``geo_safety.layers.Base.metadata`` (what ``tests/test_layer_schema.py`` compares with the migrated database);
anything else, however it was built, raises ``ValueError`` before any SQL is made.
So a statement is safe by construction, not because some caller checked its input earlier.

``table``/``column``/``qualified`` return quoted text for ``sqlalchemy.text`` (quoted by the driver,
psycopg's ``sql.Identifier``); ``table_id``/``column_id`` return the identifiers themselves, for statements
composed with ``psycopg.sql``.
"""

from __future__ import annotations

from psycopg import sql

from geo_safety.layers import Base


def _quote(name: str) -> str:
    """Always quoted (not only when needed): what the statement says is exactly the checked name."""
    return sql.Identifier(name).as_string()


def _known_table(name: object) -> str:
    if not isinstance(name, str) or name not in Base.metadata.tables:
        raise ValueError(f"not a table of the schema: {name!r}")
    return name


def _known_column(table_name: object, name: object) -> str:
    columns = Base.metadata.tables[_known_table(table_name)].columns
    if not isinstance(name, str) or name not in columns:
        raise ValueError(f"not a column of {table_name}: {name!r}")
    return name


def table(name: str) -> str:
    """``name`` quoted, if it is a table of the schema; ``ValueError`` otherwise.

    >>> table("water_hazards")
    '"water_hazards"'
    """
    return _quote(_known_table(name))


def column(table_name: str, name: str) -> str:
    """Column ``name`` of ``table_name`` quoted (unqualified); ``ValueError`` unless both are in the schema.

    >>> column("audit_log", "actor")
    '"actor"'
    """
    return _quote(_known_column(table_name, name))


def columns(table_name: str, names: tuple[str, ...] | list[str]) -> str:
    """Several columns of ``table_name``, quoted and comma-separated (a column list or a SELECT list)."""
    return ", ".join(column(table_name, name) for name in names)


def qualified(table_name: str, name: str) -> str:
    """``"table"."column"``, both checked.

    >>> qualified("premises", "district_code")
    '"premises"."district_code"'
    """
    return f"{table(table_name)}.{column(table_name, name)}"


def table_id(name: str) -> sql.Identifier:
    """A schema table as a psycopg identifier (for ``psycopg.sql`` composition)."""
    return sql.Identifier(_known_table(name))


def column_id(table_name: str, name: str) -> sql.Identifier:
    """A schema column as a psycopg identifier (for ``psycopg.sql`` composition)."""
    return sql.Identifier(_known_column(table_name, name))

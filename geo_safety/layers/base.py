"""Declarative base shared by every layer model."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def in_list(column: str, allowed: tuple[str, ...]) -> str:
    """SQL for a CHECK that keeps a text column inside a closed vocabulary.

    >>> in_list("kind", ("a", "b"))
    "kind IN ('a', 'b')"
    """
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in allowed)
    return f"{column} IN ({quoted})"


def valid_geometry(column: str) -> str:
    """SQL for a CHECK that rejects invalid or empty geometries at the database too."""
    return f"{column} IS NULL OR (ST_IsValid({column}) AND NOT ST_IsEmpty({column}))"

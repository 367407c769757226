"""Declarative base shared by every layer model, and how a column says what the world outside may do with it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Column, MetaData, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo_safety.rules import values

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: the key of a column's ``info`` that holds its :class:`Exposed`
EXPOSED = "exposed"


@dataclass(frozen=True)
class Exposed:
    """What a layer column is outside the database. The importer's fields, the feature API's and OGC API's
    properties, read scopes and the vocabulary CHECKs are all derived from these (``geo_safety.layers.spec``)."""

    file: bool = False  # an import file may carry it (a field of the layer's ``LayerSpec``)
    required: bool = False  # … and must; its default otherwise is the column's server default
    choices: tuple[str, ...] | None = None  # closed vocabulary, also kept by a CHECK named ``<column>_known``
    feature: bool = False  # served as a property (or, for geometry, the geometry) by the feature and OGC APIs
    district: bool = False  # the district code of the row: what a read limited to districts filters on
    time: bool = False  # the row's last change: what OGC ``datetime`` filters on
    retired: bool = False  # set: the row is soft-deleted and served nowhere


def exposed(
    *,
    file: bool = False,
    required: bool = False,
    choices: type[StrEnum] | tuple[str, ...] | None = None,
    feature: bool = False,
    district: bool = False,
    time: bool = False,
    retired: bool = False,
) -> dict[str, Any]:
    """The ``info`` of a ``mapped_column``. ``required`` implies ``file``; ``choices`` an enum of ``geo_safety.rules``.

    >>> exposed(required=True, choices=("a", "b"))["exposed"].file
    True
    """
    vocabulary = None if choices is None else choices if isinstance(choices, tuple) else values(choices)
    found = Exposed(file or required, required, vocabulary, feature, district, time, retired)
    return {EXPOSED: found}


def exposure(column: Column[Any]) -> Exposed:
    """The column's :class:`Exposed` (nothing, when it has none)."""
    found = column.info.get(EXPOSED, Exposed())
    assert isinstance(found, Exposed), column
    return found


def _vocabulary_checks(table: Table) -> None:
    """A CHECK ``<column>_known`` for each column with choices, so the database keeps the vocabulary the importer
    checks; migrations write the same constraint (``tests/test_layer_schema.py`` compares them)."""
    for column in table.columns:
        choices = exposure(column).choices
        if choices is not None:
            table.append_constraint(CheckConstraint(in_list(column.name, choices), name=f"{column.name}_known"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if isinstance(table, Table):
            _vocabulary_checks(table)


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


def flag() -> Mapped[bool]:
    """A yes/no item a file may set and the feature APIs serve (a school's security item, a zone's guard
    measure): never NULL, false unless given."""
    return mapped_column(Boolean, nullable=False, server_default="false", info=exposed(file=True, feature=True))

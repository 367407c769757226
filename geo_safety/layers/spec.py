"""What the importer and the feature APIs see of a layer, derived from its model (the one home of its shape).

A model marks its columns with ``info=exposed(...)`` (``geo_safety.layers.base``) and, when a file layer is not
simply "the table's file columns, keyed by its primary key, with its file geometry", declares
``__file_layers__``. From that come :class:`LayerSpec` (the importer's registry) and :class:`FeatureLayer` (the
columns the feature API and OGC API serve, and the rows they may serve).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    DefaultClause,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    true,
)
from sqlalchemy.types import TypeEngine

from geo_safety.layers.base import Base, exposure


@dataclass(frozen=True)
class FieldSpec:
    """A column a file may carry. ``kind`` is one of text, int, float, bool, date, datetime, json."""

    name: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] | None = None
    default: object = None


@dataclass(frozen=True)
class LayerSpec:
    """How a file becomes rows of ``table``."""

    name: str
    table: str
    key: str
    geometry: str | None  # "Point", "MultiPolygon" or None (table rows without geometry)
    geometry_column: str | None
    fields: tuple[FieldSpec, ...]
    assign_district: bool = True
    update_only: bool = False  # rows must already exist (school campuses)
    extra: dict[str, str] = field(default_factory=dict)

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class FileLayer:
    """A file layer onto a model's table, when it differs from the default (see :func:`file_layers`)."""

    name: str
    geometry_column: str | None = None  # None: the table's geometry column marked ``file``, if any
    key: str | None = None  # None: the primary key; "row": keyless rows that are only appended
    only: tuple[str, ...] | None = None  # just these of the file columns
    update_only: bool = False  # the rows must exist already: the file adds to them (assigns no district)
    file_only: tuple[FieldSpec, ...] = ()  # fields a file carries that are no column (the importer resolves them)


#: geometry type of a column → the importer's name of it
_GEOMETRY_NAMES = {"POINT": "Point", "MULTIPOLYGON": "MultiPolygon"}


def _kind(sql_type: TypeEngine[Any]) -> str:
    """The importer's kind of a column type."""
    for types, kind in (
        (Boolean, "bool"),
        (Integer, "int"),
        (Numeric, "float"),
        (DateTime, "datetime"),
        (Date, "date"),
        (JSON, "json"),
        (String, "text"),
    ):
        if isinstance(sql_type, types):
            return kind
    raise TypeError(f"no import kind for column type {sql_type!r}")


def _default(column: Column[Any], kind: str) -> object:
    """The value the importer fills in for a missing optional field: the column's own server default."""
    clause = column.server_default
    if clause is None:
        return None
    literal = clause.arg if isinstance(clause, DefaultClause) else None
    if not isinstance(literal, str):
        raise TypeError(f"{column}: a file column's server default must be a plain literal, not {literal!r}")
    if kind == "bool":
        return {"true": True, "false": False}[literal]
    if kind == "int":
        return int(literal)
    if kind == "float":
        return float(literal)
    if kind == "json":
        json.loads(literal)  # the importer writes it as given: it must be JSON
    return literal


def field_spec(column: Column[Any]) -> FieldSpec:
    """The importer's field for a column marked ``file``."""
    rules = exposure(column)
    kind = _kind(column.type)
    return FieldSpec(
        column.name, kind, rules.required, rules.choices, None if rules.required else _default(column, kind)
    )


def _geometry(table: Table, name: str | None) -> Column[Any] | None:
    if name is not None:
        return table.c[name]
    marked = [c for c in table.columns if isinstance(c.type, Geometry) and exposure(c).file]
    if len(marked) > 1:
        raise TypeError(f"{table.name}: several geometry columns are marked file; name one in __file_layers__")
    return marked[0] if marked else None


def layer_spec(table: Table, declared: FileLayer) -> LayerSpec:
    """The importer's ``LayerSpec`` of one file layer of ``table``."""
    geometry = _geometry(table, declared.geometry_column)
    columns = [c for c in table.columns if exposure(c).file and not isinstance(c.type, Geometry)]
    if declared.only is not None:
        columns = [c for c in columns if c.name in declared.only]
    (primary,) = table.primary_key.columns
    geometry_type = None if geometry is None else _GEOMETRY_NAMES[getattr(geometry.type, "geometry_type", "")]
    return LayerSpec(
        declared.name,
        table.name,
        declared.key or primary.name,
        geometry_type,
        None if geometry is None else geometry.name,
        (*declared.file_only, *(field_spec(c) for c in columns)),
        assign_district=geometry is not None and "district_code" in table.c and not declared.update_only,
        update_only=declared.update_only,
    )


def file_layers(model: type[Base]) -> tuple[LayerSpec, ...]:
    """Every file layer of a model: those it declares in ``__file_layers__``, else one named after its table when
    any column is marked ``file``."""
    table = model.__table__
    assert isinstance(table, Table)
    declared: tuple[FileLayer, ...] | None = model.__dict__.get("__file_layers__")
    if declared is None:
        declared = (FileLayer(table.name),) if any(exposure(c).file for c in table.columns) else ()
    return tuple(layer_spec(table, d) for d in declared)


@dataclass(frozen=True)
class FeatureLayer:
    """A layer the feature API and OGC API serve: its properties (the key first), geometry and live rows."""

    name: str
    table: Table
    geometry: Column[Any]
    properties: tuple[Column[Any], ...]
    district: Column[Any]  # what a read limited to districts filters on
    time: Column[Any] | None  # the last change, for OGC ``datetime``
    live: ColumnElement[bool]  # the rows that are served (soft-deleted ones are not)

    @property
    def key(self) -> Column[Any]:
        return self.properties[0]

    @property
    def columns(self) -> tuple[str, ...]:
        """The property names, in order."""
        return tuple(c.name for c in self.properties)


def _one(table: Table, what: str, columns: list[Column[Any]]) -> Column[Any]:
    if len(columns) != 1:
        raise TypeError(f"{table.name}: a feature layer needs exactly one {what} column, found {len(columns)}")
    return columns[0]


def feature_layer(model: type[Base]) -> FeatureLayer | None:
    """The model's feature layer, named after its table, if any column is marked ``feature``."""
    table = model.__table__
    assert isinstance(table, Table)
    served = [c for c in table.columns if exposure(c).feature]
    if not served:
        return None
    geometry = _one(table, "served geometry", [c for c in served if isinstance(c.type, Geometry)])
    properties = tuple(c for c in served if c is not geometry)
    (primary,) = table.primary_key.columns
    if properties[0] is not primary:
        raise TypeError(f"{table.name}: the first served column must be the primary key (the feature id)")
    times = [c for c in table.columns if exposure(c).time]
    retired = [c.is_(None) for c in table.columns if exposure(c).retired]
    return FeatureLayer(
        table.name,
        table,
        geometry,
        properties,
        _one(table, "district", [c for c in table.columns if exposure(c).district]),
        _one(table, "time", times) if times else None,
        and_(*retired) if retired else true(),
    )

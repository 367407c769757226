"""The models are the one home of each layer's shape: after every migration, the database agrees with them and with
all that is derived from them (the importer's fields, the served feature columns, the closed vocabularies), and
the feature statements built from them quote what they name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, Column, Connection, Engine, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo_safety.layers import FEATURE_LAYERS, LAYER_MODELS, LAYERS, Base, exposed, exposure, feature_layer
from geo_safety.sql import reads as sql_reads

#: the importer's kind of a field → the database types that hold it
KIND_TYPES = {
    "text": {"text"},
    "int": {"integer", "bigint"},
    "float": {"double precision", "numeric(6,2)"},
    "bool": {"boolean"},
    "date": {"date"},
    "datetime": {"timestamp with time zone"},
    "json": {"jsonb"},
}
LAYER_TABLES = {model.__tablename__ for model in LAYER_MODELS}


def _squash(sql_type: str) -> str:
    return sql_type.lower().replace(" ,", ",").replace(", ", ",")


def db_columns(conn: Connection, table: str) -> dict[str, tuple[str, bool]]:
    """name → (type as PostgreSQL writes it, NOT NULL) of a table's columns."""
    rows = conn.execute(
        text(
            """SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
                WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"""
        ),
        {"t": table},
    )
    return {name: (_squash(sql_type), not_null) for name, sql_type, not_null in rows}


def schema_mismatches(engine: Engine, tables: Iterable[Table] = Base.metadata.sorted_tables) -> list[str]:
    """How the migrated database differs from the models: every table and column both ways, type and NULL."""
    problems = []
    dialect = postgresql.dialect()
    with engine.connect() as conn:
        for table in tables:
            in_db = db_columns(conn, table.name)
            in_model = {c.name: (_squash(c.type.compile(dialect=dialect)), not c.nullable) for c in table.columns}
            problems += [
                f"{table.name}.{name}: model {in_model.get(name)}, database {in_db.get(name)}"
                for name in sorted(in_db.keys() | in_model.keys())
                if in_db.get(name) != in_model.get(name)
            ]
    return problems


@pytest.fixture(scope="module")
def conn(session_engine: Engine) -> Any:
    """A connection to the database after all migrations; whatever a test writes is rolled back."""
    with session_engine.connect() as connection:
        yield connection
        connection.rollback()


def test_the_models_and_the_migrated_database_have_the_same_columns_types_and_nullability(
    session_engine: Engine,
) -> None:
    assert schema_mismatches(session_engine) == []


def test_the_comparison_sees_a_wrong_type_and_a_missing_column(session_engine: Engine) -> None:
    """The check above must be able to fail: a column the database lacks, one of another type, one it has but the
    model does not, and one whose NULL differs (on a copy of the model's table)."""
    copy = Base.metadata.tables["districts"].to_metadata(MetaData())
    copy.append_column(Column("not_in_database", Text))
    copy.c.level.type = Integer()
    copy.c.name.nullable = True
    copy._columns.remove(copy.c.parent_code)
    assert schema_mismatches(session_engine, [copy]) == [
        "districts.level: model ('integer', True), database ('text', True)",
        "districts.name: model ('text', False), database ('text', True)",
        "districts.not_in_database: model ('text', False), database None",
        "districts.parent_code: model None, database ('text', False)",
    ]


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_file_field_is_a_column_of_its_kind_with_the_database_default(conn: Connection, name: str) -> None:
    layer = LAYERS[name]
    model = next(m for m in LAYER_MODELS if m.__tablename__ == layer.table)
    columns = db_columns(conn, layer.table)
    file_only = {f.name for declared in model.__dict__.get("__file_layers__", ()) for f in declared.file_only}
    assert layer.key in columns or layer.key == "row"
    if layer.geometry_column is not None:
        assert columns[layer.geometry_column][0] == f"geometry({layer.geometry},4326)".lower()
    if layer.assign_district:
        assert "district_code" in columns
    defaults = dict(
        conn.execute(
            text(
                """SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                     JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                    WHERE d.adrelid = CAST(:t AS regclass)"""
            ),
            {"t": layer.table},
        ).all()
    )
    for field in layer.fields:
        if field.name in file_only:
            assert field.name not in columns
            continue
        sql_type, not_null = columns[field.name]
        assert sql_type in KIND_TYPES[field.kind], field
        if field.required:
            assert not_null, field
            continue
        if field.name not in defaults:
            assert field.default is None, field
            continue
        # what the database fills in for a missing value is what the importer fills in
        stored = conn.execute(text(f"SELECT {defaults[field.name]}")).scalar_one()
        assert (json.loads(str(field.default)) if field.kind == "json" else field.default) == stored, field


@pytest.mark.parametrize("name", list(FEATURE_LAYERS))
def test_every_served_column_is_a_column_of_its_table(conn: Connection, name: str) -> None:
    layer = FEATURE_LAYERS[name]
    columns = db_columns(conn, layer.table.name)
    served = [*layer.properties, layer.geometry, layer.district, *([layer.time] if layer.time is not None else [])]
    assert {c.name for c in served} <= columns.keys()
    assert columns[layer.geometry.name][0].startswith("geometry(")
    assert layer.key.name == next(iter(layer.table.primary_key.columns)).name


def _vocabularies() -> list[tuple[str, str, tuple[str, ...]]]:
    """(table, column, choices) of every closed vocabulary: the models' and the importer's."""
    found = {
        (table.name, c.name, choices)
        for table in Base.metadata.sorted_tables
        for c in table.columns
        if (choices := exposure(c).choices) is not None
    }
    found |= {
        (layer.table, f.name, f.choices)
        for layer in LAYERS.values()
        if layer.table in Base.metadata.tables
        for f in layer.fields
        if f.choices is not None and f.name in Base.metadata.tables[layer.table].c
    }
    return sorted(found)


@pytest.mark.parametrize(("table", "column", "choices"), _vocabularies())
def test_each_closed_vocabulary_is_what_the_database_check_accepts(
    conn: Connection, table: str, column: str, choices: tuple[str, ...]
) -> None:
    constraints = conn.execute(
        text(
            """SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND c.conkey = ARRAY[a.attnum]
                WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'c' AND a.attname = :c"""
        ),
        {"t": table, "c": column},
    ).all()
    assert [name for name, _ in constraints] == [f"ck_{table}_{column}_known"]
    definition = constraints[0][1]
    listed = {literal.replace("''", "'") for literal in re.findall(r"'((?:[^']|'')*)'::text", definition)}
    assert listed == set(choices), definition
    # and the constraint does what it says: each choice passes, near misses do not
    conn.execute(text(f'CREATE TEMP TABLE probe ("{column}" text, CONSTRAINT probe_known {definition})'))
    try:
        for value in choices:
            conn.execute(text("INSERT INTO probe VALUES (:v)"), {"v": value})
        for value in ("", choices[0].upper(), choices[0] + " ", "unknown"):
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(text("INSERT INTO probe VALUES (:v)"), {"v": value})
    finally:
        conn.rollback()


def test_every_check_of_the_models_is_in_the_database(conn: Connection) -> None:
    """The models' CHECKs (the vocabularies' ones derived from ``exposed(choices=...)``) exist under their names."""
    in_db = set(conn.execute(text("SELECT conname FROM pg_constraint WHERE contype = 'c'")).scalars())
    in_models = {
        str(constraint.name)
        for table in Base.metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert {"ck_schools_kind_known", "ck_water_hazards_kind_known", "ck_inspections_result_known"} <= in_models
    assert in_models - in_db == set()
    # and every vocabulary CHECK of a layer table in the database has its choices in the model
    in_layers = {n for n in in_db if n.endswith("_known") and any(n.startswith(f"ck_{t}_") for t in LAYER_TABLES)}
    assert in_layers and in_layers <= {f"ck_{t}_{c}_known" for t, c, _ in _vocabularies()}


# -- feature statements: built from the table, so the compiler quotes every identifier --------------------------
class _OddBase(DeclarativeBase):
    """A separate registry: the odd table is never part of the application's metadata."""


class _Odd(_OddBase):
    __tablename__ = 'odd "layer"; --'

    key: Mapped[str] = mapped_column("key; drop", Text, primary_key=True, info=exposed(feature=True))
    select: Mapped[str] = mapped_column("Select", Text, info=exposed(feature=True))
    district: Mapped[str] = mapped_column("district code", Text, info=exposed(feature=True, district=True))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), info=exposed(feature=True))
    gone: Mapped[str | None] = mapped_column("gone at", Text, info=exposed(retired=True))


def test_feature_statements_quote_the_names_they_build_from(conn: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    layer = feature_layer(_Odd)  # any declarative model derives the same way
    assert layer is not None and layer.columns == ("key; drop", "Select", "district code")
    monkeypatch.setitem(sql_reads.FEATURE_LAYERS, "odd", layer)
    table = _Odd.__table__
    assert isinstance(table, Table)
    try:
        _OddBase.metadata.create_all(conn)
        rows = [
            ("a", "x'y", "450502", "POINT(109.1 21.5)", None),
            ("b", "z", "450502", "POINT(109.2 21.6)", None),
            ("c", "x'y", "450521", "POINT(109.3 21.7)", None),
            ("d", "x'y", "450502", "POINT(109.1 21.5)", "retired"),
        ]
        names = ("key; drop", "Select", "district code", "geom", "gone at")
        conn.execute(table.insert(), [dict(zip(names, (*r[:3], f"SRID=4326;{r[3]}", r[4]), strict=True)) for r in rows])
        where = sql_reads.FeatureFilter(scoped=True, properties=("Select",), bbox=True)
        params = {"districts": ["450502"], "f0": "x'y", "minx": 109, "miny": 21, "maxx": 110, "maxy": 22}
        page = (
            conn.execute(sql_reads.features_page("odd", where), {**params, "limit": 10, "offset": 0}).mappings().all()
        )
        assert [(r["key; drop"], r["Select"], r["matched"]) for r in page] == [("a", "x'y", 1)]
        assert json.loads(page[0]["geometry"]) == {"type": "Point", "coordinates": [109.1, 21.5]}
        assert conn.execute(sql_reads.features_count("odd", where), params).scalar_one() == 1
        extent = conn.execute(sql_reads.features_extent("odd"), {}).one()
        assert [round(v, 6) for v in extent] == [109.1, 21.5, 109.3, 21.7]
        tile = conn.execute(
            sql_reads.features_tile("odd", sql_reads.FeatureFilter(scoped=True)),
            {"z": 0, "x": 0, "y": 0, "layer": "odd", "districts": ["450521"]},
        ).scalar_one()
        assert b"450521" in bytes(tile) and b"450502" not in bytes(tile)
    finally:
        conn.rollback()


@pytest.mark.parametrize("name", list(FEATURE_LAYERS))
def test_the_feature_api_response_model_names_the_served_columns(name: str) -> None:
    """The one hand-written copy of a served layer's columns is its response model: it must name them, in order."""
    from geo_safety.api.schemas_features import LAYER_COLLECTIONS

    feature = LAYER_COLLECTIONS[name].model_fields["features"].annotation.__args__[0]
    properties = feature.model_fields["properties"].annotation
    assert tuple(properties.model_fields) == FEATURE_LAYERS[name].columns

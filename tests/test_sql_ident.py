"""Names reach SQL only through ``geo_safety.sql.ident``: schema names come back quoted, anything else is refused."""

from __future__ import annotations

import dataclasses

import pytest
from psycopg import sql

from geo_safety.layers import Base, get_layer
from geo_safety.layers.spec import FieldSpec
from geo_safety.sql import accounts, ident, imports, inspections, links, maintenance, scope, visits, zones

HOSTILE = [
    "",
    "nope",
    "Users",  # case matters: the quoted name would be another (missing) table
    "users ",
    "public.users",
    'users"; DROP TABLE users; --',
    "users; DROP TABLE users",
    "users\x00",
    "pg_catalog.pg_authid",
    "(SELECT 1)",
]


def test_every_table_and_column_of_the_schema_comes_back_quoted() -> None:
    assert len(Base.metadata.tables) >= 10  # the models are loaded: the allow-list is not empty by accident
    for name, table in Base.metadata.tables.items():
        assert ident.table(name) == f'"{name}"'
        assert ident.table_id(name) == sql.Identifier(name)
        for column in table.columns:
            assert ident.column(name, column.name) == f'"{column.name}"'
            assert ident.qualified(name, column.name) == f'"{name}"."{column.name}"'
            assert ident.column_id(name, column.name) == sql.Identifier(column.name)


def test_known_names_quoted_the_way_postgresql_reads_them() -> None:
    assert ident.columns("audit_log", ["actor", "client"]) == '"actor", "client"'


@pytest.mark.parametrize("name", HOSTILE)
def test_unknown_and_hostile_table_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        ident.table(name)
    with pytest.raises(ValueError):
        ident.table_id(name)


@pytest.mark.parametrize("name", HOSTILE)
def test_unknown_and_hostile_column_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        ident.column("users", name)
    with pytest.raises(ValueError):
        ident.column_id("users", name)
    with pytest.raises(ValueError):
        ident.qualified("users", name)
    with pytest.raises(ValueError):
        ident.columns("users", ["name", name])


def test_a_column_counts_only_in_its_own_table() -> None:
    with pytest.raises(ValueError):
        ident.column("districts", "district_code")  # a column of other tables, not of districts
    with pytest.raises(ValueError):
        ident.column("nope", "id")
    with pytest.raises(ValueError):
        ident.column(None, "id")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ident.table(None)  # type: ignore[arg-type]


def test_builders_refuse_names_outside_the_schema() -> None:
    """The statements that take a name build nothing from a name the schema does not know."""
    with pytest.raises(ValueError):
        maintenance.row_count("users; DROP TABLE users")
    with pytest.raises(ValueError):
        accounts.failures_since("actor = actor OR 1=1 OR actor")
    with pytest.raises(ValueError):
        accounts.failures_since("name")  # a column, but not one failures are counted by
    for build in (zones.zone_row, zones.insert_zone, zones.update_zone):
        with pytest.raises(ValueError):
            build(("name", "depth_m = 0, geom"))
        with pytest.raises(ValueError):
            build(("name", "password_hash"))  # a column of users, not of water_hazards
    with pytest.raises(ValueError):
        scope.first_refusal("water_hazards", "id; DROP TABLE users", "geom", scope.FEATURE_CANDIDATE)
    with pytest.raises(ValueError):
        scope.first_refusal("water_hazards x, users", "id", None, scope.FEATURE_CANDIDATE)
    with pytest.raises(ValueError):
        scope.staged_candidates("schools", "id::text, password_hash", False)
    for target in ("district_code", "premise_id, inspector", "school_id"):
        with pytest.raises(ValueError):
            inspections.insert_inspection(target)
    for measures in (("fence", "deleted_at"), ("fence = TRUE, geom",), ("name",)):
        with pytest.raises(ValueError):
            inspections.set_measures(measures)
    for column in ("district_code OR TRUE", "users.district_code", "schools.code", "x.district_code"):
        with pytest.raises(ValueError):
            scope.rows_in_districts(column, ("450502",))


def test_builders_quote_what_they_name() -> None:
    assert '"client" = :who' in accounts.failures_since("client").text
    assert 'FROM "water_hazards"' in maintenance.row_count("water_hazards").text
    assert '"depth_m" = :depth_m' in zones.update_zone(("name", "depth_m")).text
    assert 'SELECT "thumbnail" AS data' in visits.PHOTO_THUMBNAIL.text
    assert 'INSERT INTO inspections ("hazard_id", inspected_at' in inspections.insert_inspection("hazard_id").text
    assert 'SET "fence" = :fence, "lifebuoy" = :lifebuoy,' in inspections.set_measures(("fence", "lifebuoy")).text
    assert scope.rows_in_districts("premises.district_code", ("450502",)) == (
        '"premises"."district_code" = ANY(%s)',
        [["450502"]],
    )
    composed = scope.first_refusal("water_hazards", "id", "geom", scope.FEATURE_CANDIDATE).as_string()
    assert 'JOIN "water_hazards" t ON t."id" = c.id' in composed
    assert 'coalesce(t."geom",' in composed


def test_import_and_link_statements_name_only_registered_layers() -> None:
    """A layer spec that is not the registered one (another table, a forged field) builds nothing."""
    premises = get_layer("premises")
    forged = [
        dataclasses.replace(premises, table="users"),
        dataclasses.replace(premises, key="id; DROP TABLE users"),
        dataclasses.replace(premises, fields=(*premises.fields, FieldSpec('x" text); DROP TABLE users; --'))),
    ]
    for layer in forged:
        for build in (imports.create_staging, imports.copy_into_staging, imports.copy_into, imports.insert_staged):
            with pytest.raises(ValueError):
                build(layer)
    for table, key in (("users", "id"), ("premise_school_links", "school_id"), ("premises", "id")):
        with pytest.raises(ValueError):
            links.copy_links(table, key)
    assert imports.copy_into(premises).as_string().startswith('COPY "premises" ("id", "name",')
    assert 'FROM "premises" f JOIN schools s' in links.PREMISES_AROUND_SCHOOLS
    # a catalogue name is quoted whole, whatever it holds
    assert imports.drop_catalogued_index('ix"; DROP TABLE users').as_string() == 'DROP INDEX "ix""; DROP TABLE users"'

"""File imports (``services.imports``, ``services.bulkload``): the staging table, the writes into a layer, the
first load's index drop and rebuild, and the bookkeeping.

These run on the raw psycopg connection of the import's transaction. Every layer table and column is named
through :mod:`geo_safety.sql.ident`; the staging table's columns are the layer's own file fields (checked
against the registered layer of that name) plus ``row_no``, ``geometry`` and ``district_code``. Statements are
built once per import (or per chunk), never per row.
"""

from __future__ import annotations

from psycopg import sql
from sqlalchemy import text

from geo_safety.layers import LAYERS, LayerSpec
from geo_safety.sql import ident

#: The SQL type of each field kind, for the staging table.
_SQL_TYPES = {
    "text": "text",
    "int": "integer",
    "float": "double precision",
    "bool": "boolean",
    "date": "date",
    "datetime": "timestamptz",
    "json": "jsonb",
}

# -- bookkeeping (SQLAlchemy, on the import's connection) -----------------------------------------------------------
#: Every district's code and geometry (WKB), in code order: the service area. No binds.
SERVICE_AREA = text("SELECT code, ST_AsBinary(geom) FROM districts ORDER BY code")

#: One import's record. Binds: ``layer``, ``file``, ``datum``, ``mode``, ``rows``, ``ins``, ``upd``, ``del``,
#: ``rep``, ``by``.
INSERT_IMPORT_RUN = text(
    """INSERT INTO import_runs (layer, file_name, datum, mode, rows_read, inserted, updated, deleted,
                   repaired, imported_by)
                   VALUES (:layer, :file, :datum, :mode, :rows, :ins, :upd, :del, :rep, :by)"""
)


# -- names ----------------------------------------------------------------------------------------------------------
def _registered(layer: LayerSpec) -> LayerSpec:
    """``layer`` if it is the registered layer of its name (its fields are then the code's, not a caller's)."""
    if LAYERS.get(layer.name) != layer:
        raise ValueError(f"not a registered layer: {layer.name!r}")
    return layer


def staging_columns(layer: LayerSpec) -> list[str]:
    """The staging table's columns, in COPY order: ``row_no``, the file fields, then geometry and district."""
    names = ["row_no", *(f.name for f in _registered(layer).fields)]
    if layer.geometry:
        names.append("geometry")
        if layer.assign_district:
            names.append("district_code")
    return names


def target_columns(layer: LayerSpec) -> list[str]:
    """The layer table's columns a row writes (fields, geometry column, district), each checked."""
    names = [f.name for f in _registered(layer).fields]
    if layer.geometry:
        names.append(layer.geometry_column or "geom")
        if layer.assign_district:
            names.append("district_code")
    for name in names:
        ident.column(layer.table, name)
    return names


def _staged(layer: LayerSpec, name: str) -> sql.Identifier:
    if name not in staging_columns(layer):
        raise ValueError(f"not a staging column of {layer.name}: {name!r}")
    return sql.Identifier(name)


# -- the staging table ----------------------------------------------------------------------------------------------
def create_staging(layer: LayerSpec) -> sql.Composed:
    """A temporary table ``staging`` shaped like the layer's canonical file columns, dropped at commit."""
    types = {"row_no": "integer", "district_code": "text", "geometry": f"geometry({layer.geometry}, 4326)"}
    types |= {f.name: _SQL_TYPES[f.kind] for f in _registered(layer).fields}
    if layer.geometry not in (None, "Point", "MultiPolygon"):
        raise ValueError(f"not a layer geometry: {layer.geometry!r}")
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(_staged(layer, n), sql.SQL(types[n])) for n in staging_columns(layer)
    )
    return sql.SQL("CREATE TEMP TABLE staging ({}) ON COMMIT DROP").format(definition)


def copy_into_staging(layer: LayerSpec) -> sql.Composed:
    """One chunk into ``staging`` (CSV in :func:`staging_columns` order)."""
    return sql.SQL("COPY staging ({}) FROM STDIN (FORMAT csv)").format(
        sql.SQL(", ").join(_staged(layer, n) for n in staging_columns(layer))
    )


def staged_keys(layer: LayerSpec) -> sql.Composed:
    """The staged rows' ids. No params."""
    return sql.SQL("SELECT {} FROM staging").format(_staged(layer, layer.key))


#: Planner statistics of the staging table. No params.
ANALYZE_STAGING = "ANALYZE staging"


def analyze(table: str) -> sql.Composed:
    """Fresh planner statistics of a layer table. No params."""
    return sql.SQL("ANALYZE {}").format(ident.table_id(table))


def unique_staged_key(layer: LayerSpec) -> sql.Composed:
    """A unique index on the staged ids (a duplicate raises ``UniqueViolation``). No params."""
    return sql.SQL("CREATE UNIQUE INDEX ON staging ({})").format(_staged(layer, layer.key))


def duplicate_staged_key(layer: LayerSpec) -> sql.Composed:
    """The id staged twice whose second row comes first: ``id, first row, second row``. No params."""
    return sql.SQL(
        "SELECT {k}, min(row_no), max(row_no) FROM staging GROUP BY {k} HAVING count(*) > 1 "
        "ORDER BY max(row_no) LIMIT 1"
    ).format(k=_staged(layer, layer.key))


# -- rows into the layer --------------------------------------------------------------------------------------------
def _lists(layer: LayerSpec) -> tuple[str, str]:
    """The target column list and the staged source list, both quoted."""
    targets = target_columns(layer)
    sources = ["geometry" if c == layer.geometry_column else c for c in targets]
    return ident.columns(layer.table, targets), ", ".join(_staged(layer, s).as_string() for s in sources)


def first_clash(layer: LayerSpec) -> str:
    """The first staged row whose id is already stored: ``row_no, id``. No params."""
    table, key = ident.table(layer.table), ident.column(layer.table, layer.key)
    return f"SELECT s.row_no, s.{key} FROM staging s JOIN {table} t ON t.{key} = s.{key} ORDER BY s.row_no LIMIT 1"


def insert_staged(layer: LayerSpec) -> str:
    """Every staged row into the layer (append). No params."""
    column_list, source_list = _lists(layer)
    return f"INSERT INTO {ident.table(layer.table)} ({column_list}) SELECT {source_list} FROM staging"


def upsert_staged(layer: LayerSpec, stored_in_scope: str) -> str:
    """Every staged row inserted or, when stored and ``stored_in_scope`` holds, updated: ``inserted, updated,
    staged`` counts (fewer written than staged: a stored row was out of scope).

    ``stored_in_scope`` is a condition from :func:`geo_safety.sql.scope.rows_in_districts`; its params are
    the statement's.
    """
    table, key = ident.table(layer.table), ident.column(layer.table, layer.key)
    column_list, source_list = _lists(layer)
    updates = [f"{c} = EXCLUDED.{c}" for c in (ident.column(layer.table, t) for t in target_columns(layer)) if c != key]
    if layer.table != "districts":
        updates.append("updated_at = now()")
    if layer.table == "water_hazards":
        updates += [f"version = {table}.version + 1", "deleted_at = NULL"]
    return f"""WITH written AS (
                    INSERT INTO {table} ({column_list}) SELECT {source_list} FROM staging
                    ON CONFLICT ({key}) DO UPDATE SET {", ".join(updates)} WHERE {stored_in_scope}
                    RETURNING (xmax = 0) AS is_new)
                SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new),
                       (SELECT count(*) FROM staging) FROM written"""


def _missing(layer: LayerSpec) -> str:
    table, key = ident.table(layer.table), ident.column(layer.table, layer.key)
    return f"NOT EXISTS (SELECT 1 FROM staging s WHERE s.{key} = {table}.{key})"


def soft_delete_missing(layer: LayerSpec, in_scope: str) -> str:
    """Live rows not in the file and in scope marked deleted (zones stay in history). Params: ``in_scope``'s."""
    table = ident.table(layer.table)
    return (
        f"UPDATE {table} SET deleted_at = now(), version = version + 1 "
        f"WHERE deleted_at IS NULL AND {_missing(layer)} AND {in_scope}"
    )


def delete_missing(layer: LayerSpec, in_scope: str) -> str:
    """Rows not in the file and in scope deleted (replace). Params: ``in_scope``'s."""
    return f"DELETE FROM {ident.table(layer.table)} WHERE {_missing(layer)} AND {in_scope}"


#: A stored district the file leaves out that features still lie in: ``code`` (no row: none). No params.
ORPHANED_DISTRICT = """SELECT d.code FROM districts d
                WHERE NOT EXISTS (SELECT 1 FROM staging s WHERE s.code = d.code)
                  AND (EXISTS (SELECT 1 FROM schools x WHERE x.district_code = d.code)
                       OR EXISTS (SELECT 1 FROM premises x WHERE x.district_code = d.code)
                       OR EXISTS (SELECT 1 FROM water_hazards x WHERE x.district_code = d.code))
                LIMIT 1"""

# -- school campuses (update only) ----------------------------------------------------------------------------------
#: The first staged campus of no stored school: ``row_no, id``. No params.
UNKNOWN_SCHOOL = (
    "SELECT s.row_no, s.id FROM staging s LEFT JOIN schools t ON t.id = s.id "
    "WHERE t.id IS NULL ORDER BY s.row_no LIMIT 1"
)

#: The first staged campus more than 500 m from its school's gate: ``row_no, id``. No params.
FAR_CAMPUS = """SELECT s.row_no, s.id FROM staging s JOIN schools t ON t.id = s.id
                             WHERE NOT ST_DWithin(t.geom::geography, s.geometry::geography, 500)
                             ORDER BY s.row_no LIMIT 1"""

#: The staged campuses onto their schools. No params.
SET_CAMPUSES = "UPDATE schools SET campus = s.geometry, updated_at = now() FROM staging s WHERE schools.id = s.id"

#: Campuses of schools the file leaves out cleared (replace). No params.
CLEAR_MISSING_CAMPUSES = (
    "UPDATE schools SET campus = NULL, updated_at = now() WHERE campus IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM staging s WHERE s.id = schools.id)"
)

# -- the inspections ledger (append only) ---------------------------------------------------------------------------
#: Each staged visit's premise or zone resolved from ``target_id`` (and ``target_type``). No params.
RESOLVE_TARGETS = """
            ALTER TABLE staging ADD premise_id text, ADD hazard_id text;
            UPDATE staging s SET premise_id = p.id FROM premises p
             WHERE p.id = s.target_id AND coalesce(s.target_type, 'premise') = 'premise';
            UPDATE staging s SET hazard_id = h.id FROM water_hazards h
             WHERE h.id = s.target_id AND coalesce(s.target_type, 'water_hazard') = 'water_hazard';"""

#: The first visit of no target or of two: ``row_no, target_id, both``. No params.
BAD_TARGET = """SELECT row_no, target_id, premise_id IS NOT NULL AND hazard_id IS NOT NULL FROM staging
                             WHERE num_nonnulls(premise_id, hazard_id) <> 1 ORDER BY row_no LIMIT 1"""

#: The first visit dated after tomorrow: ``row_no, target_id``. No params.
FUTURE_VISIT = (
    "SELECT row_no, target_id FROM staging WHERE inspected_at > now() + interval '1 day' ORDER BY row_no LIMIT 1"
)

#: Where the new visits' ids are kept for the status statements. No params.
CREATE_WRITTEN_INSPECTIONS = "CREATE TEMP TABLE written_inspections (id bigint) ON COMMIT DROP"

#: The staged visits into the ledger, in file order, their ids kept. No params.
INSERT_INSPECTIONS = """
            WITH written AS (
                INSERT INTO inspections (premise_id, hazard_id, inspected_at, inspector, result, findings,
                                         follow_up_due)
                SELECT premise_id, hazard_id, inspected_at, inspector, result, findings, follow_up_due
                  FROM staging ORDER BY row_no
                RETURNING id)
            INSERT INTO written_inspections SELECT id FROM written"""

#: The new visits' ids (for ``status_from_inspections``).
WRITTEN_INSPECTION_IDS = "SELECT id FROM written_inspections"

#: The premises the new visits are of (for ``sync_premise_status``).
VISITED_PREMISES = "SELECT premise_id FROM staging WHERE premise_id IS NOT NULL"


# -- the first load into an empty table (``services.bulkload``) -----------------------------------------------------
def has_rows(table: str) -> sql.Composed:
    """Whether a layer table holds any row: one boolean. No params."""
    return sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(ident.table_id(table))


def lock_exclusive(table: str) -> sql.Composed:
    """The table to this transaction alone until it ends. No params."""
    return sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(ident.table_id(table))


def copy_into(layer: LayerSpec) -> sql.Composed:
    """Rows straight into the layer table: the file fields, then geometry and district (CSV)."""
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        ident.table_id(layer.table),
        sql.SQL(", ").join(ident.column_id(layer.table, c) for c in target_columns(layer)),
    )


#: The indexes of a table that back no constraint: ``name, definition`` (``CREATE INDEX …``), by name. Params:
#: the table's name (a value: ``%s::regclass``).
SECONDARY_INDEXES = """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                WHERE i.indrelid = %s::regclass
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                ORDER BY 1"""


def drop_catalogued_index(name: str) -> sql.Composed:
    """``DROP INDEX`` of a name read from :data:`SECONDARY_INDEXES` (the catalogue), quoted as an identifier.

    Not checked against the models: these are whatever indexes the migrated table has (migrations add
    some the models do not declare), and the name is the database's own, never a caller's.
    """
    return sql.SQL("DROP INDEX {}").format(sql.Identifier(name))


def bulk_load_begin(table: str) -> sql.Composed:
    """Before a first load's ``COPY``: what can be built once afterwards is set aside (migration 0012: for
    ``premises`` its key, the keys and indexes of its links and due state, the foreign keys to it and the insert
    triggers; it refuses a table holding rows, and does nothing for other tables)."""
    return sql.SQL("SELECT geo_safety_bulk_load_begin({}::regclass)").format(sql.Literal(ident.table(table)))


def bulk_load_end(table: str) -> sql.Composed:
    """After the rows and their links: the key back first (a duplicate id: ``UniqueViolation``), the triggers'
    work done over the whole (formerly empty) table, then indexes, foreign keys and triggers restored."""
    return sql.SQL("SELECT geo_safety_bulk_load_end({}::regclass)").format(sql.Literal(ident.table(table)))

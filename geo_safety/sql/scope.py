"""The write-scope checks of ``services.scope``, composed with ``psycopg.sql`` (they run on the raw connection).

Candidates are a relation ``(row_no, id, geometry, district_code)``: an import's staging table or one feature.
Every statement takes ``%(allowed)s`` (the caller's district codes) and, with polygons, ``%(tolerance)s``.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from geo_safety.sql import ident

_EMPTY = sql.SQL("ST_SetSRID('GEOMETRYCOLLECTION EMPTY'::geometry, 4326)")


def first_refusal(table: str, key: str, geometry_column: str | None, candidates: sql.Composable) -> sql.Composed:
    """The first candidate outside the scope: ``row_no, id, kind, district, area`` (no row: all allowed).

    ``kind`` is ``stored`` (the id is a row of ``table`` outside the allowed districts), ``district`` (the
    candidate's district is outside) or, when ``geometry_column`` is given (polygon layers), ``reach`` (it
    covers more than ``tolerance`` m² of an outside district that the stored row did not). Binds:
    ``%(allowed)s``, ``%(tolerance)s`` and the candidates' own.
    """
    table_id, key_id = ident.table_id(table), ident.column_id(table, key)
    parts = [
        sql.SQL(
            """SELECT c.row_no, c.id, 1 AS step, 'stored' AS kind, NULL::text AS district, NULL::float8 AS area
                 FROM cand c JOIN {table} t ON t.{key} = c.id
                WHERE NOT coalesce(t.district_code = ANY(%(allowed)s), false)"""
        ).format(table=table_id, key=key_id),
        sql.SQL(
            """SELECT c.row_no, c.id, 2, 'district', c.district_code, NULL
                 FROM cand c WHERE c.district_code IS NOT NULL AND NOT c.district_code = ANY(%(allowed)s)"""
        ),
    ]
    if geometry_column is not None:
        parts.append(
            sql.SQL(
                """SELECT c.row_no, c.id, 3, 'reach', d.code, r.area
                     FROM cand c
                     JOIN districts d ON NOT d.code = ANY(%(allowed)s) AND ST_Intersects(d.geom, c.geometry)
                     LEFT JOIN {table} t ON t.{key} = c.id
                     CROSS JOIN own
                     CROSS JOIN LATERAL (
                        SELECT ST_Area(ST_Difference(ST_Difference(ST_Intersection(c.geometry, d.geom), own.geom),
                                                     coalesce(t.{geom}, {empty}))::geography) AS area) r
                    WHERE r.area > %(tolerance)s"""
            ).format(table=table_id, key=key_id, geom=ident.column_id(table, geometry_column), empty=_EMPTY)
        )
    return sql.SQL(
        """WITH cand AS ({candidates}),
                own AS (SELECT coalesce(ST_Union(geom), {empty}) AS geom FROM districts WHERE code = ANY(%(allowed)s))
           SELECT row_no, id, kind, district, area FROM ({union}) found ORDER BY row_no, step LIMIT 1"""
    ).format(candidates=candidates, empty=_EMPTY, union=sql.SQL(" UNION ALL ").join(parts))


def staged_candidates(table: str, key: str, with_geometry: bool) -> sql.Composed:
    """An import's staging table as candidates (its key column named as in ``table``). No binds."""
    geometry = sql.SQL("geometry") if with_geometry else sql.SQL("NULL::geometry")
    return sql.SQL("SELECT row_no, {key}::text AS id, {geometry} AS geometry, district_code FROM staging").format(
        key=ident.column_id(table, key), geometry=geometry
    )


#: One feature of the single-feature API as candidates. Binds: ``%(id)s``, ``%(wkb)s`` (WGS84 WKB),
#: ``%(district)s``.
FEATURE_CANDIDATE = sql.SQL(
    "SELECT 1 AS row_no, %(id)s::text AS id, ST_SetSRID(ST_GeomFromWKB(%(wkb)s), 4326) AS geometry, "
    "%(district)s::text AS district_code"
)


def rows_in_districts(column: str, districts: tuple[str, ...] | None) -> tuple[str, list[Any]]:
    """A condition keeping rows whose ``column`` is one of ``districts`` (``TRUE`` for None), and its params.

    ``column`` is ``district_code`` or ``table.district_code`` with ``table`` a table of the schema that has
    that column; it is quoted here, anything else raises ``ValueError``. The one parameter is positional
    (``%s``).

    >>> rows_in_districts("water_hazards.district_code", ("450502",))
    ('"water_hazards"."district_code" = ANY(%s)', [['450502']])
    >>> rows_in_districts("district_code", None)
    ('TRUE', [])
    """
    if districts is None:  # no column is named: a table without districts (e.g. ``districts``) may ask too
        return "TRUE", []
    table, _, name = column.rpartition(".")
    if name != "district_code":
        raise ValueError(f"rows are limited by their district_code, not {column!r}")
    quoted = ident.qualified(table, name) if table else '"district_code"'
    return f"{quoted} = ANY(%s)", [list(districts)]

"""Feature–school links (``services.links``): reading features and schools out by ``COPY``, writing links in.

These run on the raw psycopg connection of the write they follow. Rows travel as CSV both ways, so the reads
are ``COPY (query) TO STDOUT`` statements; the link tables are named through :mod:`geo_safety.sql.ident`.
"""

from __future__ import annotations

from functools import cache

from psycopg import sql

from geo_safety.sql import ident


def _copy_out(query: str) -> str:
    """``query``'s rows as CSV with a header line."""
    return f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)"


# -- reads (COPY … TO STDOUT) ---------------------------------------------------------------------------------------
_SCHOOLS = (
    "SELECT id, encode(ST_AsBinary(coalesce(campus, geom)), 'hex') AS wkb, (kind = 'kindergarten')::int AS kg"
    " FROM schools"
)
#: Every school: ``id, wkb`` (hex WKB of the campus, else the gate), ``kg`` (1: kindergarten). No params.
COPY_SCHOOLS = _copy_out(_SCHOOLS)
#: ``COPY_SCHOOLS`` of the schools whose footprint's box meets the box ``%s, %s, %s, %s`` (xmin, ymin, xmax, ymax,
#: WGS84): a few features' links need only the schools around them (a 20,000-school province read whole was most
#: of a zone edit).
COPY_SCHOOLS_IN_BOX = _copy_out(_SCHOOLS + " WHERE coalesce(campus, geom) && ST_MakeEnvelope(%s, %s, %s, %s, 4326)")

_PREMISE_POINTS = "SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y FROM premises"
#: Every premise's ``id, x, y`` (WGS84). No params.
COPY_ALL_PREMISES = _copy_out(_PREMISE_POINTS)
#: The premises ``%s`` (a list of ids) as ``id, x, y``.
COPY_PREMISES = _copy_out(_PREMISE_POINTS + " WHERE id = ANY(%s)")

_LIVE_ZONES = "SELECT id, encode(ST_AsBinary(geom), 'hex') AS wkb FROM water_hazards WHERE deleted_at IS NULL"
#: Every live zone's ``id, wkb`` (hex WKB). No params.
COPY_ALL_ZONES = _copy_out(_LIVE_ZONES)
#: The live zones ``%s`` (a list of ids) as ``id, wkb``.
COPY_ZONES = _copy_out(_LIVE_ZONES + " AND id = ANY(%s)")

# -- writes ---------------------------------------------------------------------------------------------------------
#: Forget every premise's links. No params.
TRUNCATE_PREMISE_LINKS = "TRUNCATE premise_school_links"
#: Forget the links of premises ``%s`` (a list of ids).
DELETE_PREMISE_LINKS = "DELETE FROM premise_school_links WHERE premise_id = ANY(%s)"
#: Forget every zone's links. No params.
TRUNCATE_ZONE_LINKS = "TRUNCATE hazard_school_links"
#: Forget the links of zones ``%s`` (a list of ids).
DELETE_ZONE_LINKS = "DELETE FROM hazard_school_links WHERE hazard_id = ANY(%s)"


@cache
def copy_links(table: str, key: str) -> sql.Composed:
    """Links into ``table`` (a link table) as CSV rows ``key, school_id, distance_m``."""
    if (table, key) not in (("premise_school_links", "premise_id"), ("hazard_school_links", "hazard_id")):
        raise ValueError(f"not a link table and its feature column: {table!r}, {key!r}")
    return sql.SQL("COPY {} ({}, school_id, distance_m) FROM STDIN (FORMAT csv)").format(
        ident.table_id(table), ident.column_id(table, key)
    )


# -- after schools changed ------------------------------------------------------------------------------------------
def _near_schools(table: str) -> str:
    """Features of ``table`` whose geometry's box lies within ``%(reach)s`` m of a school ``%(ids)s``.

    The footprint's box widened by the reach in degrees (≥ 110 km a degree of latitude, ≥ 110 km·cos φ of
    longitude), so the geometry index finds every feature that may lie within reach (and a few more).
    """
    return f"""SELECT DISTINCT f.id FROM {ident.table(table)} f JOIN schools s ON f.geom && ST_Expand(
                  coalesce(s.campus, s.geom),
                  %(reach)s / (110000 * cos(radians(least(89, greatest(abs(ST_YMin(coalesce(s.campus, s.geom))),
                      abs(ST_YMax(coalesce(s.campus, s.geom)))) + %(reach)s / 110000.0)))),
                  %(reach)s / 110000.0)
               WHERE s.id = ANY(%(ids)s)"""


#: Premises linked to schools ``%(ids)s`` or within ``%(reach)s`` m of them: ``premise_id``.
PREMISES_AROUND_SCHOOLS = (
    "SELECT premise_id FROM premise_school_links WHERE school_id = ANY(%(ids)s) UNION " + _near_schools("premises")
)
#: Zones linked to schools ``%(ids)s`` or within ``%(reach)s`` m of them: ``hazard_id``.
ZONES_AROUND_SCHOOLS = (
    "SELECT hazard_id FROM hazard_school_links WHERE school_id = ANY(%(ids)s) UNION " + _near_schools("water_hazards")
)

"""Water hazard zones as planners edit them: the live row, writes with optimistic versions, history."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from geo_safety.sql import ident

_ZONES = "water_hazards"


def _bind(name: str) -> str:
    """A bind named like its (checked) column."""
    ident.column(_ZONES, name)
    return ":" + name


@cache
def zone_row(columns: tuple[str, ...]) -> TextClause:
    """One zone (deleted or not) with ``columns``, district, version, timestamps and its geometry as GeoJSON.

    Binds: ``id``.
    """
    return text(
        f"""SELECT id, {ident.columns(_ZONES, columns)}, district_code, version, deleted_at, updated_at,
                       ST_AsGeoJSON(geom, 7) AS geometry
                  FROM water_hazards WHERE id = :id"""
    )


@cache
def insert_zone(columns: tuple[str, ...]) -> TextClause:
    """A new zone, returning its id. Binds: one per column of ``columns`` (same name), ``district``, ``wkb``
    (WGS84 WKB)."""
    return text(
        f"""INSERT INTO water_hazards ({ident.columns(_ZONES, columns)}, district_code, geom)
                    VALUES ({", ".join(_bind(c) for c in columns)}, :district,
                            ST_SetSRID(ST_GeomFromWKB(:wkb), 4326))
                    RETURNING id"""
    )


@cache
def update_zone(columns: tuple[str, ...]) -> TextClause:
    """A live zone's new values if it is still at ``version``, returning the new version (no row: stale).

    Binds: one per column of ``columns`` (same name), ``district``, ``wkb`` (WGS84 WKB), ``id``, ``version``.
    """
    assignments = ", ".join(f"{ident.column(_ZONES, c)} = {_bind(c)}" for c in columns)
    return text(
        f"""UPDATE water_hazards
                       SET {assignments}, district_code = :district,
                           geom = ST_SetSRID(ST_GeomFromWKB(:wkb), 4326), version = version + 1, updated_at = now()
                     WHERE id = :id AND version = :version AND deleted_at IS NULL
                 RETURNING version"""
    )


#: The version a zone is at. Binds: ``id``.
ZONE_VERSION = text("SELECT version FROM water_hazards WHERE id = :id")

#: A live zone's district and version. Binds: ``id``.
LIVE_ZONE = text("SELECT district_code, version FROM water_hazards WHERE id = :id AND deleted_at IS NULL")

#: Soft delete of a live zone still at ``version`` in ``district`` (no row: stale). Binds: ``id``, ``version``,
#: ``district``.
SOFT_DELETE_ZONE = text(
    "UPDATE water_hazards SET deleted_at = now(), version = version + 1 WHERE id = :id "
    "AND deleted_at IS NULL AND version = :version AND district_code = :district RETURNING id"
)

#: A zone's history, oldest first. Binds: ``id``.
ZONE_HISTORY = text(
    "SELECT version, action, actor, client, at, old_values, new_values FROM water_hazard_history "
    "WHERE hazard_id = :id ORDER BY id"
)

"""Spatial statements, built but not executed: the services run them in their own transactions."""

from __future__ import annotations

from sqlalchemy import TextClause, text

#: Readable layers: table, geometry column, properties, extra condition.
FEATURE_LAYERS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "districts": ("districts", "geom", ("code", "name", "level"), "true"),
    "schools": (
        "schools",
        "geom",
        (
            "id",
            "name",
            "kind",
            "students",
            "boarding",
            "address",
            "district_code",
            "full_time_guards",
            "closed_campus",
            "alarm_linked",
            "video_linked",
        ),
        "true",
    ),
    "premises": (
        "premises",
        "geom",
        ("id", "name", "category", "address", "license_no", "status", "district_code"),
        "true",
    ),
    "water_hazards": (
        "water_hazards",
        "geom",
        (
            "id",
            "name",
            "kind",
            "depth_m",
            "responsible_unit",
            "responsible_person",
            "phone",
            "warning_sign",
            "lifebuoy",
            "rescue_rope",
            "rescue_pole",
            "fence",
            "district_code",
            "version",
        ),
        "deleted_at IS NULL",
    ),
}


def features_page(layer: str, scoped: bool) -> TextClause:
    """One page of a layer as (properties…, geometry as GeoJSON text), optionally limited to districts.

    Bind ``:districts`` (text[]) when ``scoped``, and ``:limit`` / ``:offset``.
    """
    table, geom, columns, condition = FEATURE_LAYERS[layer]
    district_column = "code" if layer == "districts" else "district_code"
    where = condition + (f" AND {district_column} = ANY(:districts)" if scoped else "")
    key = columns[0]
    return text(
        f"SELECT {', '.join(columns)}, ST_AsGeoJSON({geom}, 7) AS geometry, count(*) OVER () AS matched "
        f"FROM {table} WHERE {where} ORDER BY {key} LIMIT :limit OFFSET :offset"
    )


def district_exists() -> TextClause:
    return text("SELECT EXISTS (SELECT 1 FROM districts WHERE code = :code)")

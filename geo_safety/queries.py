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


_RULES_CTE = """
rules AS (
    SELECT * FROM unnest(CAST(:cats AS text[]), CAST(:kg_m AS float8[]), CAST(:other_m AS float8[]),
                         CAST(:violation AS boolean[]), CAST(:interval AS integer[]))
         AS r(category, kg_m, other_m, violation, interval_days)
)"""


def premises_due() -> TextClause:
    """Premises due for inspection on ``:day``, in priority order, with the nearest school that puts them in scope.

    In scope: open, and within the rule distance of a school of a kind the rule covers — geodesic metres from
    the premise to the school's campus polygon (0 inside) or else its gate (``coalesce(campus, geom)``, which
    has its own geography index). Only inspections on or before ``:day`` (Asia/Shanghai dates) count; the
    latest decides: none → ``never_inspected``; a failure whose follow-up date (default +``:recheck`` days) has
    come → ``failed_recheck``; ``:day`` ≥ latest + interval → ``overdue``; ``closed``/``not_found`` → out of scope.
    Binds: the rule arrays (see ``_RULES_CTE``), ``:districts`` (text[] or NULL = all), ``:day``, ``:recheck``,
    ``:limit``, ``:offset``.
    """
    return text(
        f"""
WITH {_RULES_CTE},
candidates AS (
    SELECT p.id, p.category, p.geom,
           greatest(coalesce(r.kg_m, 0), coalesce(r.other_m, 0)) AS reach_m
      FROM premises p JOIN rules r ON r.category = p.category
     WHERE p.status = 'open'
       AND (CAST(:districts AS text[]) IS NULL OR p.district_code = ANY(CAST(:districts AS text[])))
),
pairs AS (
    SELECT c.id, s.id AS school_id, s.name AS school_name,
           ST_Distance(c.geom::geography, coalesce(s.campus, s.geom)::geography) AS distance_m,
           CASE WHEN s.kind = 'kindergarten' THEN r.kg_m ELSE r.other_m END AS rule_m
      FROM candidates c
      JOIN rules r ON r.category = c.category
      JOIN schools s ON ST_DWithin(c.geom::geography, coalesce(s.campus, s.geom)::geography, c.reach_m)
),
in_scope AS (
    SELECT DISTINCT ON (id) id, school_id, school_name, distance_m, rule_m
      FROM pairs WHERE rule_m IS NOT NULL AND distance_m <= rule_m
     ORDER BY id, distance_m, school_id
),
latest AS (
    SELECT DISTINCT ON (i.premise_id) i.premise_id, i.result, i.follow_up_due,
           (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date AS last_on
      FROM inspections i JOIN in_scope ON in_scope.id = i.premise_id
     WHERE (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date <= :day
     ORDER BY i.premise_id, i.inspected_at DESC, i.id DESC
),
judged AS (
    SELECT p.id, p.name, p.category, p.address, p.district_code, p.geom, r.violation,
           s.school_id, s.school_name, s.distance_m, s.rule_m, l.last_on,
           coalesce(l.follow_up_due, l.last_on + :recheck) AS recheck_on,
           l.last_on + r.interval_days AS next_due_on,
           l.premise_id IS NULL AS never, l.result
      FROM in_scope s
      JOIN premises p ON p.id = s.id
      JOIN rules r ON r.category = p.category
      LEFT JOIN latest l ON l.premise_id = s.id
     WHERE l.result IS NULL OR l.result NOT IN ('closed', 'not_found')
),
due AS (
    SELECT *,
           CASE WHEN never THEN 'never_inspected'
                WHEN result = 'fail' AND recheck_on <= :day THEN 'failed_recheck'
                WHEN :day >= next_due_on THEN 'overdue' END AS reason
      FROM judged
)
SELECT id, name, category, address, district_code, violation, reason, school_id, school_name,
       distance_m, rule_m, last_on,
       CASE reason WHEN 'failed_recheck' THEN :day - recheck_on WHEN 'overdue' THEN :day - next_due_on END
           AS days_overdue,
       ST_X(geom) AS lon, ST_Y(geom) AS lat, count(*) OVER () AS matched
  FROM due
 WHERE reason IS NOT NULL
 ORDER BY violation DESC,
          CASE reason WHEN 'failed_recheck' THEN 1 WHEN 'never_inspected' THEN 2 ELSE 3 END,
          days_overdue DESC NULLS LAST, distance_m, id
 LIMIT :limit OFFSET :offset
"""
    )


def school_buffers() -> TextClause:
    """Geodesic rule rings around the schools near ``:districts``: footprint buffered by ``:distance_m``.

    ``ST_Buffer`` on geography buffers in a metric projection PostGIS picks for each shape, so the ring is
    a true metric distance on the ground (not a circle in degrees).
    """
    return text(
        """
SELECT s.id, s.name, s.kind, CAST(:distance_m AS float8) AS distance_m,
       ST_AsGeoJSON(ST_Buffer(coalesce(s.campus, s.geom)::geography, :distance_m, 'quad_segs=8')::geometry, 7)
           AS geometry
  FROM schools s
 WHERE CAST(:districts AS text[]) IS NULL OR s.district_code = ANY(CAST(:districts AS text[]))
 ORDER BY s.id
"""
    )


def district_outline() -> TextClause:
    return text(
        "SELECT code, name, ST_AsGeoJSON(geom, 6) AS geometry FROM districts "
        "WHERE CAST(:districts AS text[]) IS NULL OR code = ANY(CAST(:districts AS text[])) ORDER BY code"
    )


def inspection_target() -> TextClause:
    """A premise or water hazard to record an inspection of: district and distance from the reported position."""
    return text(
        """
SELECT id, district_code, status,
       CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
            ELSE ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) END
           AS distance_m
  FROM (SELECT id, district_code, status, geom FROM premises WHERE :target_type = 'premise' AND id = :target_id
        UNION ALL
        SELECT id, district_code, 'open', geom FROM water_hazards
         WHERE :target_type = 'water_hazard' AND id = :target_id AND deleted_at IS NULL) t
"""
    )


def school_gates() -> TextClause:
    return text(
        "SELECT id, name, kind, students, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM schools "
        "WHERE CAST(:districts AS text[]) IS NULL OR district_code = ANY(CAST(:districts AS text[])) ORDER BY id"
    )

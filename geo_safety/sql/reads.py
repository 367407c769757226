"""The spatial reads (due list, hotspots, feature pages, reports), built but not executed: the services run them
in their own transactions. SQLAlchemy Core and ``text``, built per call or cached per variant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    LargeBinary,
    Select,
    String,
    Text,
    TextClause,
    any_,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
    true,
)

from geo_safety.layers import FEATURE_LAYERS as FEATURE_LAYERS  # the served layers, derived from the models
from geo_safety.layers import FeatureLayer


@dataclass(frozen=True)
class FeatureFilter:
    """The conditions of a read of a feature layer beyond its live rows, each with the binds it takes."""

    scoped: bool = False  # :districts (text[]): only rows of these districts
    bbox: bool = False  # :minx, :miny, :maxx, :maxy (CRS84): rows whose geometry meets the box
    since: bool = False  # :t0: changed at or after
    until: bool = False  # :t1: changed at or before
    properties: tuple[str, ...] = ()  # :f0, :f1, … (text): each served property equals its bind, as text
    feature_id: bool = False  # :fid (text): the one feature with this id

    def conditions(self, layer: FeatureLayer) -> list[ColumnElement[bool]]:
        """The WHERE of ``layer`` (identifiers come from its table, so the compiler quotes them)."""
        where: list[ColumnElement[bool]] = [layer.live]
        if self.scoped:
            where.append(layer.district == any_(bindparam("districts", type_=ARRAY(Text))))
        if self.bbox:
            box = func.ST_MakeEnvelope(bindparam("minx"), bindparam("miny"), bindparam("maxx"), bindparam("maxy"), 4326)
            where += [layer.geometry.op("&&")(box), func.ST_Intersects(layer.geometry, box)]
        if self.since or self.until:
            if layer.time is None:
                raise ValueError(f"layer {layer.name} has no time column")
            if self.since:
                where.append(layer.time >= bindparam("t0"))
            if self.until:
                where.append(layer.time <= bindparam("t1"))
        served = {c.name: c for c in layer.properties}
        for n, name in enumerate(self.properties):
            where.append(cast(served[name], Text) == bindparam(f"f{n}", type_=Text))
        if self.feature_id:
            where.append(cast(layer.key, Text) == bindparam("fid", type_=Text))
        return where


def features_page(layer: str, where: FeatureFilter = FeatureFilter()) -> Select[*tuple[Any, ...]]:
    """One page of a layer, in key order: (properties…, geometry as GeoJSON text, matched: rows in all pages).

    Bind ``:limit`` / ``:offset`` and those of ``where``. The one statement of the feature API and OGC items.
    """
    spec = FEATURE_LAYERS[layer]
    return (
        select(
            *spec.properties,
            func.ST_AsGeoJSON(spec.geometry, 7).label("geometry"),
            func.count().over().label("matched"),
        )
        .where(*where.conditions(spec))
        .order_by(spec.key)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


def features_count(layer: str, where: FeatureFilter = FeatureFilter()) -> Select[int]:
    """How many rows of a layer match (a page past the end carries no window count)."""
    spec = FEATURE_LAYERS[layer]
    return select(func.count()).select_from(spec.table).where(*where.conditions(spec))


def features_extent(layer: str, where: FeatureFilter = FeatureFilter()) -> Select[Any, Any, Any, Any]:
    """(xmin, ymin, xmax, ymax) of the matching rows; NULLs when none."""
    spec = FEATURE_LAYERS[layer]
    box = select(func.ST_Extent(spec.geometry).label("e")).where(*where.conditions(spec)).subquery("x")
    return select(func.ST_XMin(box.c.e), func.ST_YMin(box.c.e), func.ST_XMax(box.c.e), func.ST_YMax(box.c.e))


def features_tile(layer: str, where: FeatureFilter = FeatureFilter()) -> Select[bytes]:
    """A Mapbox Vector Tile (WebMercatorQuad) of a layer's served properties; empty bytes when nothing is in it.

    Bind ``:z``, ``:x``, ``:y``, ``:layer`` (the tile's layer name) and those of ``where``.
    """
    spec = FEATURE_LAYERS[layer]
    bounds = select(
        func.ST_TileEnvelope(
            bindparam("z", type_=Integer), bindparam("x", type_=Integer), bindparam("y", type_=Integer)
        ).label("b3857")
    ).cte("bounds")
    geometry = func.ST_AsMVTGeom(func.ST_Transform(spec.geometry, 3857), bounds.c.b3857, 4096, 64, true())
    mvt = (
        select(geometry.label("mvt_geom"), *spec.properties)
        .select_from(spec.table.join(bounds, true()))
        .where(spec.geometry.op("&&")(func.ST_Transform(bounds.c.b3857, 4326)), *where.conditions(spec))
        .cte("mvt")
    )
    tile = func.ST_AsMVT(mvt.table_valued(), bindparam("layer", type_=Text), 4096, "mvt_geom")
    return select(func.coalesce(tile, literal(b"", LargeBinary)))


def district_exists() -> TextClause:
    return text("SELECT EXISTS (SELECT 1 FROM districts WHERE code = :code)")


_RULES_CTE = """
rules AS (
    SELECT * FROM unnest(CAST(:cats AS text[]), CAST(:kg_m AS float8[]), CAST(:other_m AS float8[]),
                         CAST(:violation AS boolean[]), CAST(:interval AS integer[]))
         AS r(category, kg_m, other_m, violation, interval_days)
)"""


MISSING_MEASURES = """
array_remove(ARRAY[
    CASE WHEN 'warning_sign' = ANY(CAST(:required AS text[])) AND NOT h.warning_sign THEN 'warning_sign' END,
    CASE WHEN 'lifebuoy' = ANY(CAST(:required AS text[])) AND NOT h.lifebuoy THEN 'lifebuoy' END,
    CASE WHEN 'rescue_rope' = ANY(CAST(:required AS text[])) AND NOT h.rescue_rope THEN 'rescue_rope' END,
    CASE WHEN 'rescue_pole' = ANY(CAST(:required AS text[])) AND NOT h.rescue_pole THEN 'rescue_pole' END,
    CASE WHEN (h.kind = ANY(CAST(:fence_kinds AS text[])) OR 'fence' = ANY(CAST(:required AS text[])))
              AND NOT h.fence THEN 'fence' END,
    CASE WHEN coalesce(btrim(h.responsible_person), '') = '' THEN 'responsible_person' END,
    CASE WHEN CAST(:key_period AS boolean) AND NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements(h.patrols) p
             WHERE CAST(p ->> 'valid_from' AS date) <= CAST(:day AS date)
               AND CAST(:day AS date) <= CAST(p ->> 'valid_to' AS date)
               AND ((p -> 'weekdays') @> to_jsonb(CAST(:isodow AS integer))
                    OR (CAST(:holiday AS boolean) AND coalesce(CAST(p ->> 'holidays' AS boolean), false))))
         THEN 'patrol' END
], NULL)"""
"""What a zone lacks on ``:day``: required measures, a fence for some kinds, a responsible person, and in a key
period a patrol covering the day (dates, ISO weekday, or a holiday when the patrol covers holidays)."""


#: (distance, join) between a zone ``h`` and schools ``s``: measured now, or read from the links table.
_LIVE_ZONE = (
    "ST_Distance(h.geom::geography, coalesce(s.campus, s.geom)::geography)",
    "JOIN schools s ON ST_DWithin(h.geom::geography, coalesce(s.campus, s.geom)::geography, :radius)",
)
_LINKED_ZONE = (
    "l.distance_m",
    "JOIN hazard_school_links l ON l.hazard_id = h.id AND l.distance_m <= :radius JOIN schools s ON s.id = l.school_id",
)


#: Whether premise ``s.id`` was open on ``:day``: its latest status row from on or before that day (none: open).
#: One index lookup (``ix_premise_status_history_premise``) per premise in scope; later visits and imports
#: never change a past day's answer.
_OPEN_ON_DAY = """coalesce((SELECT h.status FROM premise_status_history h
                     WHERE h.premise_id = s.id AND (h.valid_from <= CAST(:day AS date) OR h.valid_from IS NULL)
                     ORDER BY h.valid_from DESC NULLS LAST, h.observed_at DESC, h.id DESC LIMIT 1), 'open') = 'open'"""


#: The due list's parts: premises in scope with their latest inspection (measured now, or from the links and
#: one index lookup per premise), premises' reasons, water zones near schools, zones' reasons and the order.
_LIVE_DUE_HEAD = """WITH {rules},
candidates AS (
    SELECT p.id, p.category, p.geom,
           greatest(coalesce(r.kg_m, 0), coalesce(r.other_m, 0)) AS reach_m
      FROM premises p JOIN rules r ON r.category = p.category
     WHERE CAST(:districts AS text[]) IS NULL OR p.district_code = ANY(CAST(:districts AS text[]))
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
     WHERE {open_on_day}
),
"""
_LINKED_DUE_HEAD = """WITH {rules},
nearest AS (
    SELECT DISTINCT ON (p.id) p.id, p.name, p.category, p.address, p.district_code, p.geom, r.violation,
           r.interval_days, l.school_id, l.distance_m,
           CASE WHEN s.kind = 'kindergarten' THEN r.kg_m ELSE r.other_m END AS rule_m
      FROM premises p
      JOIN rules r ON r.category = p.category
      JOIN premise_school_links l ON l.premise_id = p.id
      JOIN schools s ON s.id = l.school_id
     WHERE (CAST(:districts AS text[]) IS NULL OR p.district_code = ANY(CAST(:districts AS text[])))
       AND l.distance_m <= CASE WHEN s.kind = 'kindergarten' THEN r.kg_m ELSE r.other_m END {only}
     ORDER BY p.id, l.distance_m, l.school_id
),
in_scope AS (
    SELECT n.*, s.name AS school_name FROM nearest n JOIN schools s ON s.id = n.school_id
),
judged AS (
    SELECT s.id, s.name, s.category, s.address, s.district_code, s.geom, s.violation, s.school_id,
           s.school_name, s.distance_m, s.rule_m, l.last_on,
           coalesce(l.follow_up_due, l.last_on + :recheck) AS recheck_on,
           l.last_on + s.interval_days AS next_due_on, l.last_on IS NULL AS never, l.result
      FROM in_scope s
      LEFT JOIN LATERAL (
          SELECT i.result, i.follow_up_due, (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date AS last_on
            FROM inspections i
           WHERE i.premise_id = s.id
             AND i.inspected_at < CAST(CAST(:day AS date) + 1 AS timestamp) AT TIME ZONE 'Asia/Shanghai'
           ORDER BY i.inspected_at DESC, i.id DESC
           LIMIT 1) l ON true
     WHERE {open_on_day}
),
"""
_DUE_PREMISES = """premises_due AS (
    SELECT 'premise' AS target_type, id, name, category, address, district_code, violation,
           CASE WHEN never THEN 'never_inspected'
                WHEN result = 'fail' AND recheck_on <= :day THEN 'failed_recheck'
                WHEN :day >= next_due_on THEN 'overdue' END AS reason,
           school_id, school_name, distance_m, rule_m, last_on, recheck_on, next_due_on, geom AS point
      FROM judged
),
"""
_END_OF_DAY = "CAST(CAST(:day AS date) + 1 AS timestamp) AT TIME ZONE 'Asia/Shanghai'"
#: a zone is due on a day it existed: not deleted, or deleted only after that day (its record of D holds)
_EXISTED_ON_DAY = f"(h.deleted_at IS NULL OR h.deleted_at >= {_END_OF_DAY})"
_LIVE_DUE_ZONES = f"""zones AS (
    SELECT DISTINCT ON (h.id) h.id, h.name, h.kind, h.district_code, h.geom, s.id AS school_id,
           s.name AS school_name, ST_Distance(h.geom::geography, coalesce(s.campus, s.geom)::geography) AS distance_m
      FROM water_hazards h
      JOIN schools s ON ST_DWithin(h.geom::geography, coalesce(s.campus, s.geom)::geography, :radius)
     WHERE {_EXISTED_ON_DAY}
       AND (CAST(:districts AS text[]) IS NULL OR h.district_code = ANY(CAST(:districts AS text[])))
     ORDER BY h.id, distance_m, s.id
),
"""
#: a zone ``h``'s nearest school within ``:radius`` (``n``): one probe of ``ix_hazard_school_links_nearest``
_NEAREST_ZONE_LINK = """JOIN LATERAL (
          SELECT l.school_id, l.distance_m FROM hazard_school_links l
           WHERE l.hazard_id = h.id AND l.distance_m <= :radius
           ORDER BY l.distance_m, l.school_id
           LIMIT 1) n ON true"""
_LINKED_DUE_ZONES = f"""zones AS (
    SELECT h.id, h.name, h.kind, h.district_code, h.geom, n.school_id, s.name AS school_name, n.distance_m
      FROM water_hazards h
      {_NEAREST_ZONE_LINK}
      JOIN schools s ON s.id = n.school_id
     WHERE h.deleted_at IS NULL
       AND (CAST(:districts AS text[]) IS NULL OR h.district_code = ANY(CAST(:districts AS text[])))
    UNION ALL  -- zones deleted after the day keep no links: measured live (few, and only for past days)
    (SELECT DISTINCT ON (h.id) h.id, h.name, h.kind, h.district_code, h.geom, s.id, s.name,
            ST_Distance(h.geom::geography, coalesce(s.campus, s.geom)::geography) AS distance_m
       FROM water_hazards h
       JOIN schools s ON ST_DWithin(h.geom::geography, coalesce(s.campus, s.geom)::geography, :radius)
      WHERE h.deleted_at >= {_END_OF_DAY}
        AND (CAST(:districts AS text[]) IS NULL OR h.district_code = ANY(CAST(:districts AS text[])))
      ORDER BY h.id, distance_m, s.id)
),
"""
_DUE_TAIL = """zone_latest AS (
    SELECT i.hazard_id, max((i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date) AS last_on
      FROM inspections i JOIN zones z ON z.id = i.hazard_id
     WHERE (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date <= :day
     GROUP BY i.hazard_id
),
zones_due AS (
    SELECT 'water_hazard' AS target_type, z.id, z.name, z.kind AS category, NULL::text AS address, z.district_code,
           false AS violation,
           CASE WHEN l.last_on IS NULL THEN 'never_inspected'
                WHEN :day >= l.last_on + :hz_interval THEN 'overdue' END AS reason,
           z.school_id, z.school_name, z.distance_m, CAST(:radius AS float8) AS rule_m, l.last_on,
           NULL::date AS recheck_on, l.last_on + :hz_interval AS next_due_on, ST_PointOnSurface(z.geom) AS point
      FROM zones z LEFT JOIN zone_latest l ON l.hazard_id = z.id
),
due AS (
    SELECT * FROM premises_due WHERE reason IS NOT NULL OR CAST(:include_all AS boolean)
    UNION ALL
    SELECT * FROM zones_due WHERE reason IS NOT NULL AND CAST(:with_zones AS boolean)
)
SELECT target_type, id, name, category, address, district_code, violation, reason, school_id, school_name,
       distance_m, rule_m, last_on,
       CASE reason WHEN 'failed_recheck' THEN :day - recheck_on WHEN 'overdue' THEN :day - next_due_on END
           AS days_overdue,
       ST_X(point) AS lon, ST_Y(point) AS lat, count(*) OVER () AS matched
  FROM due
 ORDER BY violation DESC,
          CASE reason WHEN 'failed_recheck' THEN 1 WHEN 'never_inspected' THEN 2 ELSE 3 END,
          days_overdue DESC NULLS LAST, distance_m, target_type, id
 LIMIT :limit OFFSET :offset
"""


def due_targets(linked: bool = False) -> TextClause:
    """Premises and water zones due for inspection on ``:day``, in priority order, paged.

    Premises are in scope when open on ``:day`` (their status history: a closing visit or registry closure counts
    from its day, a later visit finding it open again from that one) and within the rule distance of a school
    of a kind the rule covers —
    geodesic metres from the premise to the school's campus polygon (0 inside) or else its gate
    (``coalesce(campus, geom)``, which has its own geography index). Only inspections on or before ``:day``
    (Asia/Shanghai dates) count; the latest decides: none → ``never_inspected``; a failure whose follow-up
    date (default +``:recheck`` days) has come → ``failed_recheck``; ``:day`` ≥ latest + interval →
    ``overdue``. With ``:include_all`` every in-scope premise is
    returned, due or not (``reason`` NULL), e.g. to map violations. Water zones within ``:radius`` of a school are due
    when never checked, or not checked for ``:hz_interval`` days (shorter in a key period); their point is
    a point on the zone's surface.

    ``linked``: read the feature–school distances from the link tables (valid while every rule distance
    and ``:radius`` are within ``proximity``'s reaches) instead of measuring them now.
    """
    if linked:
        head, zones = _LINKED_DUE_HEAD.format(rules=_RULES_CTE, open_on_day=_OPEN_ON_DAY, only=""), _LINKED_DUE_ZONES
    else:
        head, zones = _LIVE_DUE_HEAD.format(rules=_RULES_CTE, open_on_day=_OPEN_ON_DAY), _LIVE_DUE_ZONES
    return text(head + _DUE_PREMISES + zones + _DUE_TAIL)


_IN_SCOPE = "(CAST(:districts AS text[]) IS NULL OR {column} = ANY(CAST(:districts AS text[])))"
_STATE_OF = _IN_SCOPE.format(column="d.district_code")
_UNSURE = f"""unsure AS (
    SELECT d.premise_id FROM premise_due d WHERE ({_STATE_OF}) AND d.records_until > :day
),
"""
#: zones for today and later: only live zones (a zone deleted today was gone by the end of the day)
_FAST_DUE_ZONES = f"""zones AS (
    SELECT h.id, n.school_id, n.distance_m
      FROM water_hazards h
      {_NEAREST_ZONE_LINK}
     WHERE h.deleted_at IS NULL AND CAST(:with_zones AS boolean)
       AND (CAST(:districts AS text[]) IS NULL OR h.district_code = ANY(CAST(:districts AS text[])))
),
zone_latest AS (
    SELECT i.hazard_id, max((i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date) AS last_on
      FROM inspections i JOIN zones z ON z.id = i.hazard_id
     WHERE (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date <= :day
     GROUP BY i.hazard_id
),
"""
#: Every due target as narrow sort keys (``rank``: 1 failed re-check, 2 never inspected, 3 overdue or not due;
#: ``since``: the day it fell due, so the longest overdue sorts first), the order ``due_targets`` gives:
#: sorting 60,000 narrow rows is what a province district's list costs (wide rows took twice as long).
_FAST_PREMISE_KEYS = f"""
    SELECT 'premise' AS target_type, d.premise_id AS id, d.violation,
           CASE WHEN d.last_on IS NULL THEN 2 WHEN d.result = 'fail' AND d.recheck_on <= :day THEN 1 ELSE 3 END
               AS rank,
           CASE WHEN d.last_on IS NULL THEN NULL WHEN d.result = 'fail' AND d.recheck_on <= :day THEN d.recheck_on
                WHEN :day >= d.next_due_on THEN d.next_due_on END AS since,
           d.distance_m, d.school_id, d.rule_m, d.last_on
      FROM premise_due d
     WHERE ({_STATE_OF}) AND d.open AND coalesce(d.records_until <= :day, true)
       AND (d.due_from <= :day OR CAST(:include_all AS boolean))"""
_ONE_DISTRICT = (
    "d.district_code = (CAST(:districts AS text[]))[1] AND d.open AND coalesce(d.records_until <= :day, true)"
)
#: one district's due premises as six runs, each already in the list's order from its own index (violation or
#: not × failed re-check by its day, never inspected by distance, overdue by its day): each run stops after the
#: page, so a district of 60,000 due premises reads a few thousand index entries instead of sorting them all
_RUNS = (
    (1, "d.recheck_on", "d.result = 'fail' AND d.recheck_on <= :day", "d.recheck_on, "),
    (2, "NULL::date", "d.last_on IS NULL", ""),
    (
        3,
        "d.next_due_on",
        "d.last_on IS NOT NULL AND d.next_due_on <= :day AND NOT (d.result = 'fail' AND d.recheck_on <= :day)",
        "d.next_due_on, ",
    ),
)
_ONE_DISTRICT_PREMISE_KEYS = "\n    UNION ALL".join(
    f"""
    (SELECT 'premise' AS target_type, d.premise_id AS id, d.violation, {rank} AS rank, {since} AS since,
            d.distance_m, d.school_id, d.rule_m, d.last_on
       FROM premise_due d
      WHERE {_ONE_DISTRICT} AND d.violation = {violation} AND {condition}
      ORDER BY {order}d.distance_m, d.premise_id
      LIMIT CAST(:limit AS bigint) + CAST(:offset AS bigint))"""
    for violation in ("true", "false")
    for rank, since, condition, order in _RUNS
)
#: the count of one district's due premises, from ``ix_premise_due_count`` alone
_ONE_DISTRICT_COUNT = f"SELECT count(*) FROM premise_due d WHERE {_ONE_DISTRICT} AND d.due_from <= :day"
_FAST_DUE_KEYS = """keys AS ({premises}
    {unsure}
    UNION ALL
    SELECT 'water_hazard', z.id, false, CASE WHEN l.last_on IS NULL THEN 2 ELSE 3 END, l.last_on + :hz_interval,
           z.distance_m, z.school_id, CAST(:radius AS float8), l.last_on
      FROM zones z LEFT JOIN zone_latest l ON l.hazard_id = z.id
     WHERE l.last_on IS NULL OR :day >= l.last_on + :hz_interval
),
page AS (
    SELECT * FROM keys
     ORDER BY violation DESC, rank, since NULLS LAST, distance_m, target_type, id
     LIMIT :limit OFFSET :offset
)
SELECT page.target_type, page.id, coalesce(p.name, h.name) AS name, coalesce(p.category, h.kind) AS category,
       p.address, coalesce(p.district_code, h.district_code) AS district_code, page.violation,
       CASE page.rank WHEN 1 THEN 'failed_recheck' WHEN 2 THEN 'never_inspected'
            ELSE CASE WHEN page.since IS NOT NULL THEN 'overdue' END END AS reason,
       page.school_id, s.name AS school_name, page.distance_m, page.rule_m, page.last_on,
       :day - page.since AS days_overdue,
       ST_X(coalesce(p.geom, ST_PointOnSurface(h.geom))) AS lon,
       ST_Y(coalesce(p.geom, ST_PointOnSurface(h.geom))) AS lat,
       ({matched}) AS matched
  FROM page
  -- OFFSET 0: one index probe per row of the page, not a hash of the whole layer
  LEFT JOIN LATERAL (
      SELECT * FROM premises p WHERE page.target_type = 'premise' AND p.id = page.id OFFSET 0) p ON true
  LEFT JOIN LATERAL (
      SELECT * FROM water_hazards h WHERE page.target_type = 'water_hazard' AND h.id = page.id OFFSET 0) h ON true
  CROSS JOIN LATERAL (SELECT s.name FROM schools s WHERE s.id = page.school_id OFFSET 0) s
 ORDER BY page.violation DESC, page.rank, page.since NULLS LAST, page.distance_m, page.target_type, page.id
"""
#: rows with a record after the day (a closure recorded ahead, say): judged as the exact path does
_UNSURE_KEYS = """UNION ALL
    SELECT target_type, id, violation,
           CASE reason WHEN 'failed_recheck' THEN 1 WHEN 'never_inspected' THEN 2 ELSE 3 END,
           CASE reason WHEN 'failed_recheck' THEN recheck_on WHEN 'overdue' THEN next_due_on END,
           distance_m, school_id, rule_m, last_on
      FROM exact_due WHERE reason IS NOT NULL OR CAST(:include_all AS boolean)"""


def due_targets_from_state(unsure: bool, one_district: bool = False) -> TextClause:
    """``due_targets`` for today and later, from the due state kept at write time (``premise_due``, 0010).

    Same binds, rows and order as ``due_targets(linked=True)`` (a test compares them after every kind of
    write): a district's due premises are an index range scan on ``(district_code, due_from)``; names and
    points are read for the page only. ``unsure``: some rows of the scope hold a record after ``:day``
    (``unsure_state``); they are judged by the exact statement (planning it costs ~20 ms, so only then).
    ``one_district``: ``:districts`` names one district and not-due rows are not asked for (``:include_all``
    false): its premises are read as ordered runs (``_ONE_DISTRICT_PREMISE_KEYS``) and counted from an index.
    """
    if one_district and not unsure:
        keys = _FAST_DUE_KEYS.format(
            premises=_ONE_DISTRICT_PREMISE_KEYS,
            unsure="",
            matched=f"({_ONE_DISTRICT_COUNT}) + (SELECT count(*) FROM keys WHERE target_type = 'water_hazard')",
        )
        return text("WITH " + _FAST_DUE_ZONES + keys)
    keys = _FAST_DUE_KEYS.format(premises=_FAST_PREMISE_KEYS, unsure="{unsure}", matched="SELECT count(*) FROM keys")
    if not unsure:
        return text("WITH " + _FAST_DUE_ZONES + keys.format(unsure=""))
    head = _LINKED_DUE_HEAD.format(
        rules=_RULES_CTE + ",\n" + _UNSURE.removesuffix(",\n"),
        open_on_day=_OPEN_ON_DAY,
        only="AND p.id IN (SELECT premise_id FROM unsure)",
    )
    exact = _DUE_PREMISES.replace("premises_due AS", "exact_due AS", 1)
    return text(head + exact + _FAST_DUE_ZONES + keys.format(unsure=_UNSURE_KEYS))


def unsure_state() -> TextClause:
    """Whether any due-state row of ``:districts`` holds a record after ``:day`` (one index probe)."""
    return text(
        f"SELECT EXISTS (SELECT 1 FROM premise_due d WHERE ({_STATE_OF}) AND d.records_until > CAST(:day AS date))"
    )


#: The end of ``:day`` in Asia/Shanghai: history recorded before it is what was known that day.

#: Every zone of ``:districts`` (its current district: the caller's scope) as it stood at the end of ``:day``:
#: its latest history row recorded by then, or, for a zone first recorded later, its first row (zones are
#: digitised after they exist; the sample and most files are loaded long after the days asked about). A zone
#: deleted later was there; ``current`` marks a live zone unchanged since, whose stored links still hold.
_ZONES_AT = f"""zones_at AS (
    SELECT z.id, z.district_code, t.v ->> 'name' AS name, t.v ->> 'kind' AS kind,
           t.v ->> 'responsible_unit' AS responsible_unit, t.v ->> 'responsible_person' AS responsible_person,
           t.v ->> 'phone' AS phone,
           CAST(t.v ->> 'warning_sign' AS boolean) AS warning_sign, CAST(t.v ->> 'lifebuoy' AS boolean) AS lifebuoy,
           CAST(t.v ->> 'rescue_rope' AS boolean) AS rescue_rope, CAST(t.v ->> 'rescue_pole' AS boolean) AS rescue_pole,
           CAST(t.v ->> 'fence' AS boolean) AS fence, coalesce(t.v -> 'patrols', '[]'::jsonb) AS patrols,
           t.current,
           CASE WHEN t.current THEN z.geom ELSE ST_SetSRID(ST_GeomFromGeoJSON(t.v ->> 'geometry'), 4326) END AS geom
      FROM water_hazards z
      CROSS JOIN LATERAL (
          SELECT coalesce(r.v, to_jsonb(z) - 'geom') AS v,  -- no history kept (rows written before 0004): as now
                 r.id IS NULL OR (z.deleted_at IS NULL AND NOT EXISTS (
                     SELECT 1 FROM water_hazard_history n WHERE n.hazard_id = z.id AND n.id > r.id)) AS current
            FROM (SELECT NULL) AS one
            LEFT JOIN LATERAL (
                SELECT r.id, r.new_values AS v FROM water_hazard_history r
                 WHERE r.hazard_id = z.id
                 ORDER BY (r.at < {_END_OF_DAY}) DESC, CASE WHEN r.at < {_END_OF_DAY} THEN -r.id ELSE r.id END
                 LIMIT 1) r ON true) t
     WHERE t.v ->> 'deleted_at' IS NULL
       AND (CAST(:districts AS text[]) IS NULL OR z.district_code = ANY(CAST(:districts AS text[])))
)"""


def drowning_hotspots(linked: bool = False, as_of: bool = False, exposure: bool = False) -> TextClause:
    """Unguarded zones (see ``MISSING_MEASURES``) within ``:radius`` of a school, highest risk first.

    ``as_of``: the zones, measures and patrols as they stood at the end of ``:day`` (``_ZONES_AT``), for a past
    day — later edits and deletions change nothing; a zone changed since is measured live, the others from
    the links (as for today).

    risk_score = Σ over schools within the radius of students × (1 − distance_m / radius) × kind weight,
    × (1 + 0.25 × number of missing items). Distances are geodesic, zone to campus polygon or gate;
    ``linked`` reads them from ``hazard_school_links`` (valid for ``:radius`` within its reach).

    ``exposure``: today's ranking from ``zone_exposure`` (migration 0010: each zone's schools within the stored
    radius, summed per district of the school at write time) instead of summing every zone–school pair now;
    only when ``:radius`` is the stored one and not ``as_of``.

    ``:districts`` is the caller's scope for the schools too: ``nearest_school_*`` and ``distance_m`` are those of
    the nearest school *of those districts*; schools of other districts appear only as the count
    ``schools_in_other_districts`` — when only they are within the radius, ``nearest_school_*`` are NULL and
    ``distance_m`` is the zone's distance to the nearest of them (a number, no school named). ``schools_within``,
    ``students_within`` and ``risk_score`` count every school, whatever its district: the danger to the children
    next door is the same, and a zone's rank must not depend on who asks.
    """

    def near(distance_join: tuple[str, str], condition: str) -> str:
        zone_distance, zone_join = distance_join
        return (
            f"SELECT h.id, s.id AS school_id, s.name AS school_name, s.students, {zone_distance} AS distance_m, "
            "CAST(:districts AS text[]) IS NULL OR s.district_code = ANY(CAST(:districts AS text[])) AS in_scope "
            f"FROM unguarded h {zone_join} WHERE {condition}"
        )

    stored = _LINKED_ZONE if linked else _LIVE_ZONE
    if as_of:
        zones = f"{_ZONES_AT},\n"
        source = "zones_at h"
        nearby = near(stored, "h.current") + "\n    UNION ALL\n    " + near(_LIVE_ZONE, "NOT h.current")
    else:
        zones = ""
        source = (
            "water_hazards h WHERE h.deleted_at IS NULL "
            "AND (CAST(:districts AS text[]) IS NULL OR h.district_code = ANY(CAST(:districts AS text[])))"
        )
        nearby = near(stored, "true")
    exposure_cte = """exposure AS (
    SELECT id, count(*) AS schools_within, sum(students) AS students_within,
           count(*) FILTER (WHERE NOT in_scope) AS schools_in_other_districts,
           (array_agg(school_id ORDER BY distance_m, school_id) FILTER (WHERE in_scope))[1] AS nearest_school_id,
           (array_agg(school_name ORDER BY distance_m, school_id) FILTER (WHERE in_scope))[1] AS nearest_school_name,
           coalesce(min(distance_m) FILTER (WHERE in_scope), min(distance_m)) AS distance_m,
           sum(students * (1 - distance_m / :radius)) AS weighted_students
      FROM near GROUP BY id
)"""
    nearest_name = "e.nearest_school_name"
    if exposure and not as_of:
        nearby = "SELECT 1"
        nearest_name = "(SELECT s.name FROM schools s WHERE s.id = e.nearest_school_id)"
        exposure_cte = f"""exposure AS (
    SELECT e.id, sum(e.schools) AS schools_within, sum(e.students) AS students_within,
           coalesce(sum(e.schools) FILTER (WHERE NOT e.in_scope), 0) AS schools_in_other_districts,
           (array_agg(e.nearest_school_id ORDER BY e.nearest_m, e.nearest_school_id) FILTER (WHERE e.in_scope))[1]
               AS nearest_school_id,
           coalesce(min(e.nearest_m) FILTER (WHERE e.in_scope), min(e.nearest_m)) AS distance_m,
           sum(e.weighted_students) AS weighted_students
      FROM (SELECT x.hazard_id AS id, x.*, {_IN_SCOPE.format(column="x.school_district_code")} AS in_scope
              FROM unguarded u JOIN zone_exposure x ON x.hazard_id = u.id) e
     GROUP BY e.id
)"""
    return text(
        f"""
WITH weights AS (
    SELECT * FROM unnest(CAST(:weight_kinds AS text[]), CAST(:weights AS float8[])) AS w(kind, weight)
),
{zones}judged AS (
    SELECT h.id, h.name, h.kind, h.district_code, h.responsible_unit, h.responsible_person, h.phone, h.geom,
           {"h.current" if as_of else "true AS current"}, {MISSING_MEASURES} AS missing
      FROM {source}
),
unguarded AS (SELECT * FROM judged WHERE cardinality(missing) > 0),
near AS (
    {nearby}
),
{exposure_cte}
SELECT u.id AS hazard_id, u.name, u.kind, u.district_code, u.missing, e.schools_within, e.students_within,
       e.schools_in_other_districts, e.nearest_school_id,
       {nearest_name} AS nearest_school_name, e.distance_m,
       u.responsible_unit, u.responsible_person,
       u.phone, e.weighted_students * coalesce(w.weight, 1) * (1 + 0.25 * cardinality(u.missing)) AS risk_score,
       ST_AsGeoJSON(u.geom, 7) AS geometry, count(*) OVER () AS matched
  FROM unguarded u
  JOIN exposure e ON e.id = u.id
  LEFT JOIN weights w ON w.kind = u.kind
 ORDER BY risk_score DESC, u.id
 LIMIT :limit OFFSET :offset
"""
    )


def zone_guard_state() -> TextClause:
    """Every live zone of ``:districts`` with what it lacks on ``:day`` (guarded: empty ``missing``)."""
    return text(
        f"""
SELECT h.id, h.name, h.kind, h.district_code, h.version, h.responsible_unit, h.responsible_person, h.phone,
       h.warning_sign, h.lifebuoy, h.rescue_rope, h.rescue_pole, h.fence, h.patrols,
       {MISSING_MEASURES} AS missing, ST_AsGeoJSON(h.geom, 7) AS geometry
  FROM water_hazards h
 WHERE h.deleted_at IS NULL
   AND (CAST(:districts AS text[]) IS NULL OR h.district_code = ANY(CAST(:districts AS text[])))
 ORDER BY h.id
"""
    )


def school_buffers() -> TextClause:
    """The rule ring of ``:distance_m`` around the schools of ``:districts``, dissolved into one shape.

    ``ST_Buffer`` on geography buffers each footprint in a metric projection PostGIS picks for it, so the
    ring is a true distance on the ground (not a circle in degrees). Dissolving the overlapping rings of a
    town's schools (16 segments a circle, 6 decimals ≈ 0.1 m) cut a city district's map by 1.7 MB.
    """
    return text(
        """
SELECT CAST(:distance_m AS float8) AS distance_m, count(*) AS schools,
       ST_AsGeoJSON(ST_Union(ST_Buffer(coalesce(s.campus, s.geom)::geography, :distance_m, 'quad_segs=4')::geometry),
                    6) AS geometry
  FROM schools s
 WHERE CAST(:districts AS text[]) IS NULL OR s.district_code = ANY(CAST(:districts AS text[]))
HAVING count(*) > 0
"""
    )


def district_names() -> TextClause:
    return text(
        "SELECT code, name FROM districts "
        "WHERE CAST(:districts AS text[]) IS NULL OR code = ANY(CAST(:districts AS text[])) ORDER BY code"
    )


def district_outline() -> TextClause:
    return text(
        "SELECT code, name, ST_AsGeoJSON(geom, 6) AS geometry FROM districts "
        "WHERE CAST(:districts AS text[]) IS NULL OR code = ANY(CAST(:districts AS text[])) ORDER BY code"
    )


#: The order of a premise's status rows, latest first (matches ``ix_premise_status_history_premise``).
STATUS_ORDER = "valid_from DESC NULLS LAST, observed_at DESC, id DESC"

#: Status rows of premise inspections (pass/fail: open, closed/not_found: closed, from the visit's day);
#: ``{inspections}`` is a set of inspection ids (a bind or a subquery).
_STATUS_FROM_INSPECTIONS = """
INSERT INTO premise_status_history (premise_id, status, valid_from, observed_at, source, inspection_id)
SELECT premise_id, CASE WHEN result IN ('closed', 'not_found') THEN 'closed' ELSE 'open' END,
       (inspected_at AT TIME ZONE 'Asia/Shanghai')::date, inspected_at, 'inspection', id
  FROM inspections WHERE premise_id IS NOT NULL AND id IN ({inspections})
 ORDER BY inspected_at, id  -- ids in the visits' order: two visits of one second keep their order in the history
"""

#: ``premises.status`` (and ``closed_on``) set to what the history says now, for the premises ``{premises}``.
#: The trigger of migration 0008 sees that the history already says it and records nothing more.
_SYNC_PREMISE_STATUS = f"""
UPDATE premises p
   SET status = c.status, closed_on = CASE WHEN c.status = 'closed' THEN c.valid_from END, updated_at = now()
  FROM (SELECT DISTINCT ON (premise_id) premise_id, status, valid_from FROM premise_status_history
         WHERE premise_id IN ({{premises}}) ORDER BY premise_id, {STATUS_ORDER}) c
 WHERE p.id = c.premise_id AND p.status <> c.status
"""


def status_from_inspections(inspections: str = "SELECT unnest(CAST(:ids AS bigint[]))") -> TextClause:
    """Record the status each premise inspection of ``:ids`` (or the set ``inspections``) found."""
    return text(_STATUS_FROM_INSPECTIONS.format(inspections=inspections))


def sync_premise_status(premises: str = "SELECT unnest(CAST(:ids AS text[]))") -> TextClause:
    """Set the current status of premises ``:ids`` (or the set ``premises``) from their history."""
    return text(_SYNC_PREMISE_STATUS.format(premises=premises))


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


def schools_near_zones() -> TextClause:
    """Schools of the caller's scope within ``:radius`` of any of the zones ``:ids``, with their ``:radius`` ring.

    Bind ``:districts`` (the caller's districts; ``None``: the whole city) and ``:scoped`` = true. Without them
    (older callers) only schools of each zone's own district are returned — never another district's schools,
    which a district-scoped caller must not see (the zones themselves are always in the caller's scope).
    """
    return text(
        """
SELECT s.id, s.name, s.kind, s.students, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat,
       ST_AsGeoJSON(ST_Buffer(coalesce(s.campus, s.geom)::geography, :radius, 'quad_segs=8')::geometry, 6)
           AS geometry
  FROM schools s
 WHERE EXISTS (SELECT 1 FROM water_hazards h
                WHERE h.id = ANY(CAST(:ids AS text[]))
                  AND ST_DWithin(h.geom::geography, coalesce(s.campus, s.geom)::geography, :radius)
                  AND CASE WHEN CAST(:scoped AS boolean)
                           THEN CAST(:districts AS text[]) IS NULL OR s.district_code = ANY(CAST(:districts AS text[]))
                           ELSE s.district_code = h.district_code END)
 ORDER BY s.id
"""
    ).bindparams(bindparam("scoped", value=False), bindparam("districts", value=None, type_=ARRAY(String)))


def programme_counts() -> TextClause:
    """Per district, for inspections dated ``:date_from``–``:date_to`` (Asia/Shanghai): the programme's counts.

    - inspections of premises / of water zones; distinct premises inspected;
    - violations found (failed inspections of premises of a prohibited category within its rule distance of a
      school) and closed (such premises found ``closed``);
    - failed premise inspections, and those re-checked by their follow-up date (default +``:recheck`` days) by a
      visit within the period (a later visit never changes a past period's figures);
    - schools, schools meeting all four security items, students.
    """
    return text(
        f"""
WITH {_RULES_CTE},
scope AS (SELECT code, name FROM districts
           WHERE CAST(:districts AS text[]) IS NULL OR code = ANY(CAST(:districts AS text[]))),
done AS (
    SELECT i.id, i.premise_id, i.hazard_id, i.result, i.inspected_at, i.follow_up_due,
           (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date AS on_day,
           coalesce(p.district_code, h.district_code) AS district_code, p.category, p.geom
      FROM inspections i
      LEFT JOIN premises p ON p.id = i.premise_id
      LEFT JOIN water_hazards h ON h.id = i.hazard_id
     WHERE (i.inspected_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :date_from AND :date_to
),
violations AS (
    SELECT d.* FROM done d JOIN rules r ON r.category = d.category AND r.violation
     WHERE EXISTS (SELECT 1 FROM schools s
                    WHERE ST_DWithin(d.geom::geography, coalesce(s.campus, s.geom)::geography,
                                     greatest(coalesce(r.kg_m, 0), coalesce(r.other_m, 0)))
                      AND ST_Distance(d.geom::geography, coalesce(s.campus, s.geom)::geography)
                          <= CASE WHEN s.kind = 'kindergarten' THEN r.kg_m ELSE r.other_m END)
),
failures AS (
    SELECT f.district_code, coalesce(f.follow_up_due, f.on_day + :recheck) AS due_on,
           (SELECT min((n.inspected_at AT TIME ZONE 'Asia/Shanghai')::date) FROM inspections n
             WHERE n.premise_id = f.premise_id AND n.inspected_at > f.inspected_at
               AND (n.inspected_at AT TIME ZONE 'Asia/Shanghai')::date <= :date_to) AS rechecked_on
      FROM done f WHERE f.result = 'fail' AND f.premise_id IS NOT NULL
),
school_counts AS (
    SELECT district_code, count(*) AS schools, sum(students) AS students,
           count(*) FILTER (WHERE full_time_guards AND closed_campus AND alarm_linked AND video_linked)
               AS schools_compliant
      FROM schools GROUP BY district_code
)
SELECT s.code AS district_code, s.name,
       (SELECT count(*) FROM done WHERE district_code = s.code AND premise_id IS NOT NULL) AS premise_inspections,
       (SELECT count(*) FROM done WHERE district_code = s.code AND hazard_id IS NOT NULL) AS zone_inspections,
       (SELECT count(DISTINCT premise_id) FROM done WHERE district_code = s.code) AS premises_inspected,
       (SELECT count(*) FROM violations WHERE district_code = s.code AND result = 'fail') AS violations_found,
       (SELECT count(*) FROM violations WHERE district_code = s.code AND result = 'closed') AS violations_closed,
       (SELECT count(*) FROM failures WHERE district_code = s.code) AS failures,
       (SELECT count(*) FROM failures WHERE district_code = s.code AND rechecked_on <= due_on)
           AS failures_rechecked_on_time,
       coalesce(c.schools, 0) AS schools, coalesce(c.schools_compliant, 0) AS schools_compliant,
       coalesce(c.students, 0) AS students
  FROM scope s LEFT JOIN school_counts c ON c.district_code = s.code
 ORDER BY s.code
"""
    )


#: Every zone as recorded by the end of ``:day`` (a zone first recorded later is not there): the report's view,
#: so a past period's figures never change with later edits, creations or deletions.
_ZONES_RECORDED_BY = f"""snapshot AS (
    SELECT DISTINCT ON (hazard_id) hazard_id, id AS history_id, new_values AS v
      FROM water_hazard_history
     WHERE at < {_END_OF_DAY}
     ORDER BY hazard_id, id DESC
),
h AS (
    SELECT hazard_id AS id, history_id, v ->> 'kind' AS kind, v ->> 'district_code' AS district_code,
           CAST(v ->> 'warning_sign' AS boolean) AS warning_sign, CAST(v ->> 'lifebuoy' AS boolean) AS lifebuoy,
           CAST(v ->> 'rescue_rope' AS boolean) AS rescue_rope, CAST(v ->> 'rescue_pole' AS boolean) AS rescue_pole,
           CAST(v ->> 'fence' AS boolean) AS fence, v ->> 'responsible_person' AS responsible_person,
           coalesce(v -> 'patrols', '[]'::jsonb) AS patrols, v ->> 'deleted_at' AS deleted_at,
           ST_SetSRID(ST_GeomFromGeoJSON(v ->> 'geometry'), 4326) AS geom
      FROM snapshot
),
states AS (
    SELECT h.id, h.history_id, h.district_code, h.geom, {MISSING_MEASURES} AS missing
      FROM h
     WHERE h.deleted_at IS NULL
       AND (CAST(:districts AS text[]) IS NULL OR h.district_code = ANY(CAST(:districts AS text[])))
)"""


def zone_states_at() -> TextClause:
    """Every zone as it stood at the end of ``:day`` (from its history), with what it lacked that day."""
    return text(f"WITH {_ZONES_RECORDED_BY}\nSELECT id, district_code, missing FROM states")


def students_near_unguarded_at(linked: bool = False) -> TextClause:
    """Per district of the school: schools and students within ``:radius`` of a zone of ``:districts`` unguarded
    on ``:day`` — with the zones' shapes of that day (a zone moved or deleted later counts where it was).

    ``linked``: a zone with no history recorded after the day stands as it is now, so its schools come from
    ``hazard_school_links`` (valid for ``:radius`` within their reach); only zones changed since are measured.
    Measuring every zone against every school took 48 s for a city of 2,000 zones and 2,000 schools.
    """
    live = (
        "SELECT s.id FROM unguarded u "
        "JOIN schools s ON ST_DWithin(u.geom::geography, coalesce(s.campus, s.geom)::geography, :radius)"
    )
    if linked:
        near = f"""SELECT l.school_id AS id FROM unguarded u
      JOIN hazard_school_links l ON l.hazard_id = u.id AND l.distance_m <= :radius
     WHERE u.current
    UNION
    {live} WHERE NOT u.current"""
    else:
        near = live
    return text(
        f"""
WITH {_ZONES_RECORDED_BY},
unguarded AS (
    SELECT u.id, u.geom,
           NOT EXISTS (SELECT 1 FROM water_hazard_history l WHERE l.hazard_id = u.id AND l.id > u.history_id)
               AS current
      FROM states u WHERE cardinality(u.missing) > 0
),
near AS (
    {near}
)
SELECT s.district_code, count(*) AS schools, coalesce(sum(s.students), 0) AS students
  FROM schools s
 WHERE s.id IN (SELECT id FROM near)
 GROUP BY s.district_code
"""
    )


def school_compliance() -> TextClause:
    """Schools lacking any of the four security items, with what each lacks."""
    return text(
        """
SELECT id, name, kind, students, district_code, ST_X(geom) AS lon, ST_Y(geom) AS lat,
       array_remove(ARRAY[CASE WHEN NOT full_time_guards THEN 'full_time_guards' END,
                          CASE WHEN NOT closed_campus THEN 'closed_campus' END,
                          CASE WHEN NOT alarm_linked THEN 'alarm_linked' END,
                          CASE WHEN NOT video_linked THEN 'video_linked' END], NULL) AS lacking,
       count(*) OVER () AS matched
  FROM schools
 WHERE (CAST(:districts AS text[]) IS NULL OR district_code = ANY(CAST(:districts AS text[])))
   AND NOT (full_time_guards AND closed_campus AND alarm_linked AND video_linked)
 ORDER BY district_code, id
"""
    )


def due_counts(linked: bool = False) -> TextClause:
    """Per district: premises in scope, due, overdue, with violations (binds as ``due_targets`` + include_all)."""
    inner = due_targets(linked).text
    return text(
        f"""
SELECT district_code,
       count(*) FILTER (WHERE target_type = 'premise' AND reason IS NOT NULL) AS premises_due,
       count(*) FILTER (WHERE target_type = 'premise' AND reason = 'overdue') AS overdue_premises,
       count(*) FILTER (WHERE target_type = 'premise' AND violation) AS violations
  FROM ({inner}) AS t
 GROUP BY district_code
"""
    )


def school_security() -> TextClause:
    return text(
        "SELECT id, name, kind, students, full_time_guards, closed_campus, alarm_linked, video_linked, "
        "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM schools "
        "WHERE CAST(:districts AS text[]) IS NULL OR district_code = ANY(CAST(:districts AS text[])) ORDER BY id"
    )

"""Inspectors' stored day plans (``services.plans``): the plan rows, the day's visits, live targets, land parts."""

from __future__ import annotations

from sqlalchemy import text

from geo_safety.rules import GUARD_MEASURES
from geo_safety.sql import ident

# -- land parts ----------------------------------------------------------------------------------------------------
#: A digest of every district's code and geometry: the land parts are recomputed exactly when it changes. No binds.
LAND_SIGNATURE = text(
    "SELECT coalesce(md5(string_agg(code || md5(ST_AsBinary(geom)), ',' ORDER BY code)), '') FROM districts"
)

#: Every district's geometry as WKB, in code order. No binds.
DISTRICT_SHAPES = text("SELECT ST_AsBinary(geom) FROM districts ORDER BY code")

# -- the stored plan -----------------------------------------------------------------------------------------------
_PLAN = "SELECT id, stops, groups, created_at, updated_at FROM day_plans WHERE user_id = :u AND day = :d AND scope = :s"

#: One inspector's plan of a day and scope (no row: none yet). Binds: ``u`` user id, ``d`` day, ``s`` scope key.
PLAN = text(_PLAN)

#: :data:`PLAN`, its row locked for the rest of the transaction (re-planning). Same binds.
PLAN_FOR_UPDATE = text(_PLAN + " FOR UPDATE")

#: Store a plan unless one exists (the first writer wins). Binds: ``u``, ``d``, ``s``, ``stops`` and ``groups``
#: (JSON text).
INSERT_PLAN = text(
    "INSERT INTO day_plans (user_id, day, scope, stops, groups) "
    "VALUES (:u, :d, :s, CAST(:stops AS jsonb), CAST(:groups AS jsonb)) "
    "ON CONFLICT ON CONSTRAINT uq_day_plans_user_day_scope DO NOTHING"
)

#: A plan's new stops and groups. Binds: ``stops``, ``groups`` (JSON text), ``id``.
UPDATE_PLAN = text(
    "UPDATE day_plans SET stops = CAST(:stops AS jsonb), groups = CAST(:groups AS jsonb), "
    "updated_at = now() WHERE id = :id"
)

# -- live state ----------------------------------------------------------------------------------------------------
#: The latest inspection of each target recorded in ``[start, end)``, by anyone. Binds: ``premises``, ``zones``
#: (lists of ids), ``start``, ``end`` (timestamps with zone).
DAY_VISITS = text(
    """
SELECT DISTINCT ON (target_type, target_id) target_type, target_id, id, result, inspected_at, inspector
  FROM (SELECT CASE WHEN premise_id IS NOT NULL THEN 'premise' ELSE 'water_hazard' END AS target_type,
               coalesce(premise_id, hazard_id) AS target_id, id, result, inspected_at, inspector
          FROM inspections
         WHERE (premise_id = ANY(CAST(:premises AS text[])) OR hazard_id = ANY(CAST(:zones AS text[])))
           AND inspected_at >= :start AND inspected_at < :end) i
 ORDER BY target_type, target_id, inspected_at DESC, id DESC
"""
)

#: Premises as the field sees them now. Binds: ``ids``.
PREMISE_TARGETS = text("SELECT id, name, address, status FROM premises WHERE id = ANY(CAST(:ids AS text[]))")

_MEASURES = ident.columns("water_hazards", GUARD_MEASURES)

#: Live zones as the field sees them now, with each guard measure. Binds: ``ids``.
ZONE_TARGETS = text(
    f"SELECT id, name, kind, phone, responsible_person, responsible_unit, {_MEASURES} "
    "FROM water_hazards WHERE id = ANY(CAST(:ids AS text[])) AND deleted_at IS NULL"
)

"""The inspectors' day: what is due, in which order to visit it, and recording a visit."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, TextClause

from geo_safety.bounds import MAX_OFFSET, check_day
from geo_safety.crs import Datum, geodesic_distance_m, to_wgs84
from geo_safety.errors import InvalidInput, NotFound, OutsideServiceArea
from geo_safety.routing import plan_route
from geo_safety.rules import GUARD_MEASURES, LOCAL_TZ, InspectionResult, today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import cache, duestate, links
from geo_safety.services.audit import Actor, record, set_actor
from geo_safety.services.imports import load_service_area
from geo_safety.services.users import Principal
from geo_safety.shapes.features import DueCollection, DueFeature, RouteFeature, RouteLine, RouteProperties, TodayRoute
from geo_safety.sql import inspections as sql_inspections
from geo_safety.sql import reads as sql_reads

MAX_PAGE = 5000
MAX_PLAN = 50


def rule_params(rules: RuleSet) -> dict[str, list[Any]]:
    items = list(rules.rules.values())
    return {
        "cats": [r.category for r in items],
        "kg_m": [r.kindergarten_m for r in items],
        "other_m": [r.other_m for r in items],
        "violation": [r.violation for r in items],
        "interval": [r.interval_days for r in items],
    }


def due_params(
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | list[str] | None,
    *,
    limit: int = 10**9,
    offset: int = 0,
    with_zones: bool = True,
    include_all: bool = False,
) -> dict[str, Any]:
    """The binds of ``sql.reads.due_targets`` (and ``due_counts``) for ``day``."""
    return {
        **rule_params(rules),
        **rules.day_facts(day),
        "districts": list(districts) if districts else None,
        "recheck": rules.recheck_days,
        "limit": limit,
        "offset": offset,
        "with_zones": with_zones,
        "include_all": include_all,
    }


def _feature(row: Any, priority: int) -> dict[str, Any]:
    """A due row as GeoJSON (plain JSON: ``due_collection`` checks it against ``DueFeature``, OGC items edit it)."""
    props = {
        "target_type": row.target_type,
        "target_id": row.id,
        "name": row.name,
        "category": row.category,
        "address": row.address,
        "district_code": row.district_code,
        "reason": row.reason,
        "violation": row.violation,
        "priority": priority,
        "nearest_school_id": row.school_id,
        "nearest_school_name": row.school_name,
        "distance_m": round(float(row.distance_m), 2),
        "rule_distance_m": float(row.rule_m),
        "last_inspected_on": row.last_on.isoformat() if row.last_on else None,
        "days_overdue": row.days_overdue,
    }
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
        "properties": props,
    }


def due_statement(conn: Connection, rules: RuleSet, day: date, params: dict[str, Any]) -> TextClause:
    """The due list's statement for ``day``: from the state kept at write time when it holds ``rules`` (today and
    later), else the exact one (from the stored links, or measured now when the rules reach beyond them)."""
    if duestate.usable(conn, rules, day, today_local()):
        one = bool(params["districts"]) and len(params["districts"]) == 1 and not params["include_all"]
        return sql_reads.due_targets_from_state(conn.execute(sql_reads.unsure_state(), params).scalar_one(), one)
    return sql_reads.due_targets(links.cover_rules(rules))


def due(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    limit: int = 1000,
    offset: int = 0,
    *,
    with_zones: bool = True,
    include_all: bool = False,
) -> dict[str, Any]:
    """Due premises (and water zones near schools) as plain GeoJSON in priority order (``priority`` 1 = first).

    For the OGC items, which filter, copy and annotate the features; everything else reads ``due_collection``.
    """
    check_day(day)
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE} and offset 0..{MAX_OFFSET:,}")
    params = due_params(
        rules, day, districts, limit=limit, offset=offset, with_zones=with_zones, include_all=include_all
    )
    with engine.connect() as conn:
        rows = conn.execute(due_statement(conn, rules, day, params), params).all()
    features = [_feature(row, offset + i + 1) for i, row in enumerate(rows)]
    return {
        "type": "FeatureCollection",
        "date": day.isoformat(),
        "numberMatched": rows[0].matched if rows else 0,
        "numberReturned": len(features),
        "features": features,
    }


def due_collection(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    limit: int = 1000,
    offset: int = 0,
    *,
    with_zones: bool = True,
    include_all: bool = False,
) -> DueCollection:
    """The due list of ``due`` as its model: keys and types checked once here, then trusted by the planner, the
    maps and the API (which answers with the instance as it is).

    Validating the built dicts is the cheapest checked way: 50,000 synthetic rows took 0.48 s as dicts, 1.3 s
    validated, 2.2 s through ``model_construct`` (pure Python), and the API's answer then costs 0.39 s instead of
    0.96 s (an instance of the response model is not validated again).
    """
    found = due(engine, rules, day, districts, limit, offset, with_zones=with_zones, include_all=include_all)
    return DueCollection.model_validate(found)


def today_plan(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    limit: int = 20,
    start: tuple[float, float] | None = None,
    within_m: float | None = None,
) -> TodayRoute:
    """The ``limit`` highest-priority due premises, ordered as a short route from ``start`` (WGS84).

    With ``within_m`` only premises that close to ``start`` are planned (a day's reach on foot or by bike).
    """
    _check_plan(limit, start, within_m)
    check_day(day)
    if within_m is None and limit <= SHARED_DUE:
        collection = shared_due(engine, rules, day, districts)
    else:
        collection = due_collection(engine, rules, day, districts, limit=MAX_PAGE)
    return plan_from(collection, limit, start, within_m)


#: How much of a district's due list today's plan and the inspection map share (highest priority first).
SHARED_DUE = 1000


def shared_due(engine: Engine, rules: RuleSet, day: date, districts: tuple[str, ...] | None) -> DueCollection:
    """The first ``SHARED_DUE`` of the due list, computed once per data version of its districts for the plan and
    the map (the inspectors' stored plans are not read: opening one recomputes nothing).

    Shared between callers: read it, never change it (``plan_from`` and the maps build new objects).
    """
    return cache.cached(
        engine,
        ("due", id(rules), day, districts),
        lambda: due_collection(engine, rules, day, districts, limit=SHARED_DUE),
        districts=districts,
        layers=cache.DUE_LAYERS,
    )


def due_total(engine: Engine, rules: RuleSet, day: date, districts: tuple[str, ...] | None) -> int:
    """How many targets are due on ``day`` (``numberMatched`` of the due list), without building the list.

    The statement is the due list's own (same binds, ``limit`` 1), so the count cannot differ from the list's;
    computed once per data version of the districts, like ``shared_due`` (every inspector's map shows it).
    """
    check_day(day)
    params = due_params(rules, day, districts, limit=1)

    def count() -> int:
        with engine.connect() as conn:
            row = conn.execute(due_statement(conn, rules, day, params), params).first()
        return int(row.matched) if row is not None else 0

    key = ("due-total", id(rules), day, districts)
    return cache.cached(engine, key, count, districts=districts, layers=cache.DUE_LAYERS)


def _check_plan(limit: int, start: tuple[float, float] | None, within_m: float | None) -> None:
    if not 1 <= limit <= MAX_PLAN:
        raise InvalidInput(f"limit must be 1..{MAX_PLAN}")
    if within_m is not None and start is None:
        raise InvalidInput("within_m needs a start position")


def route(points: Sequence[tuple[float, float]], start: tuple[float, float] | None = None) -> list[tuple[int, float]]:
    """A short visiting order of ``points`` (WGS84) from ``start``: (index into ``points``, metres from the previous
    stop or the start; 0 for the first stop without a start), in visiting order."""
    lon = np.array([p[0] for p in points], dtype=float)
    lat = np.array([p[1] for p in points], dtype=float)
    previous = start
    legs = []
    for k in plan_route(lon, lat, start):
        here = (float(lon[k]), float(lat[k]))
        legs.append((int(k), float(geodesic_distance_m(*previous, *here)) if previous else 0.0))
        previous = here
    return legs


def plan_from(
    collection: DueCollection, limit: int, start: tuple[float, float] | None = None, within_m: float | None = None
) -> TodayRoute:
    """Today's plan from a due list already in priority order (new objects: the list is left as it was)."""
    _check_plan(limit, start, within_m)
    candidates = collection.features
    if within_m is not None and start is not None:
        candidates = [
            f for f in candidates if float(geodesic_distance_m(*start, *f.geometry.coordinates[:2])) <= within_m
        ]
    chosen = candidates[:limit]
    ordered: list[RouteFeature] = []
    total = 0.0
    for n, (k, leg) in enumerate(route([_lonlat(f) for f in chosen], start), start=1):
        feature = chosen[k]
        properties = RouteProperties(**dict(feature.properties), route_order=n, leg_distance_m=round(leg, 1))
        ordered.append(RouteFeature(type="Feature", id=feature.id, geometry=feature.geometry, properties=properties))
        total += leg
    line = ([list(start)] if start else []) + [list(_lonlat(f)) for f in ordered]
    return TodayRoute(
        type="FeatureCollection",
        date=collection.date,
        numberMatched=collection.numberMatched,
        numberReturned=len(ordered),
        features=ordered,
        start=list(start) if start else None,
        route=RouteLine(type="LineString", coordinates=line),
        route_length_m=round(total, 1),
    )


def _lonlat(feature: DueFeature | RouteFeature) -> tuple[float, float]:
    lon, lat = feature.geometry.coordinates[:2]
    return lon, lat


@dataclass(frozen=True)
class NewInspection:
    target_type: str
    target_id: str
    result: str
    inspected_at: datetime | None = None
    findings: str | None = None
    follow_up_due: date | None = None
    lon: float | None = None
    lat: float | None = None
    datum: Datum = Datum.WGS84
    measures: dict[str, bool] | None = None  # a zone check may record the measures found on site
    client_id: str | None = None  # made on the phone: a resend of the same visit stores nothing new (services.visits)
    payload_sha256: str | None = None  # digest of what the phone sent, to tell a resend from other content
    accuracy_m: float | None = None  # the phone's stated accuracy of the position


def record_inspection(
    engine: Engine,
    rules: RuleSet,
    user: Principal,
    actor: Actor,
    visit: NewInspection,
    *,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """Store a visit (transactionally, audited). A position over ``off_site_m`` from the target is kept, flagged.

    With ``conn`` the visit joins the caller's transaction (a phone's visit and its photos commit together).
    """
    if visit.result not in InspectionResult.__members__.values():
        raise InvalidInput(f"unknown result {visit.result!r}; use one of: pass, fail, closed, not_found")
    if visit.target_type not in ("premise", "water_hazard"):
        raise InvalidInput("target_type must be 'premise' or 'water_hazard'")
    now = datetime.now(LOCAL_TZ)
    at = visit.inspected_at or now
    if at.tzinfo is None:
        at = at.replace(tzinfo=LOCAL_TZ)
    check_day(at, "inspected_at")
    check_day(visit.follow_up_due, "follow_up_due")
    if at > now + timedelta(minutes=5):
        raise InvalidInput("inspected_at lies in the future")
    on = at.astimezone(LOCAL_TZ).date()
    follow_up = visit.follow_up_due
    if follow_up is not None and follow_up < on:
        raise InvalidInput("follow_up_due is before the inspection date")
    if visit.result == InspectionResult.FAIL and follow_up is None:
        follow_up = on + timedelta(days=rules.recheck_days)
    lon = lat = None
    if (visit.lon is None) != (visit.lat is None):
        raise InvalidInput("give both lon and lat of the position, or neither")
    if visit.lon is not None and visit.lat is not None:
        if not (np.isfinite(visit.lon) and np.isfinite(visit.lat)):
            raise InvalidInput("the position must be finite numbers")
        lon_a, lat_a = to_wgs84(visit.lon, visit.lat, visit.datum)
        lon, lat = float(lon_a), float(lat_a)
    with nullcontext(conn) if conn is not None else engine.begin() as conn:
        if lon is not None and lat is not None and not load_service_area(conn).contains(lon, lat):
            raise OutsideServiceArea(
                f"the position {visit.lon}, {visit.lat} ({visit.datum.value}) lies outside the service area"
            )
        target = conn.execute(
            sql_reads.inspection_target(),
            {"target_type": visit.target_type, "target_id": visit.target_id, "lon": lon, "lat": lat},
        ).one_or_none()
        if target is None or not user.covers(target.district_code):  # the same answer: no district revealed
            raise NotFound(f"no {visit.target_type.replace('_', ' ')} with id {visit.target_id!r} in your districts")
        off_site = None if target.distance_m is None else bool(target.distance_m > rules.off_site_m)
        column = "premise_id" if visit.target_type == "premise" else "hazard_id"
        new_id = conn.execute(
            sql_inspections.insert_inspection(column),
            {
                "target": visit.target_id,
                "at": at,
                "inspector": user.name,
                "result": visit.result,
                "findings": visit.findings,
                "follow": follow_up,
                "lon": lon,
                "lat": lat,
                "datum": visit.datum.value if lon is not None else None,
                "off_site": off_site,
                "client_id": visit.client_id,
                "payload_sha256": visit.payload_sha256,
                "accuracy": visit.accuracy_m if lon is not None else None,
            },
        ).scalar_one()
        if visit.measures:
            if visit.target_type != "water_hazard":
                raise InvalidInput("measures can only be recorded for a water hazard")
            unknown = set(visit.measures) - set(GUARD_MEASURES)
            if unknown:
                raise InvalidInput(f"unknown measure {', '.join(sorted(unknown))}; use {', '.join(GUARD_MEASURES)}")
            set_actor(conn, actor)
            conn.execute(
                sql_inspections.set_measures(tuple(visit.measures)),
                {**visit.measures, "id": visit.target_id},
            )
        if visit.target_type == "premise":
            # closed/not_found closes the premise from the visit's day, pass/fail finds it open from then on;
            # the current status follows the history (a back-dated visit does not undo a later one)
            conn.execute(sql_reads.status_from_inspections(), {"ids": [new_id]})
            conn.execute(sql_reads.sync_premise_status(), {"ids": [visit.target_id]})
        details = {
            "result": visit.result,
            "off_site": off_site,
            "distance_m": None if target.distance_m is None else round(float(target.distance_m), 1),
        }
        if visit.client_id is not None:
            details["client_id"] = visit.client_id
        record(conn, actor, "inspection.create", visit.target_type, visit.target_id, details)
    response: dict[str, Any] = {
        "id": new_id,
        "target_type": visit.target_type,
        "target_id": visit.target_id,
        "result": visit.result,
        "inspected_at": at.isoformat(),
        "follow_up_due": follow_up.isoformat() if follow_up else None,
        "off_site": off_site,
        "distance_m": details["distance_m"],
    }
    if off_site:
        response["warning"] = (
            f"位置距目标 {details['distance_m']:.0f} 米，记录已保存并标记为非现场 (off_site): "
            f"the reported position is {details['distance_m']:.0f} m from the target"
        )
    return response

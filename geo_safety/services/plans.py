"""The inspector's stable day plan: fixed when first opened, ticked off in place, re-planned only on request.

An inspector who loses their place loses the day: a plan recomputed on every request renumbers the route
after each visit and lets the next due premise slide in. So the plan of one inspector, day and scope is
stored (``day_plans``) the first time it is opened and read back from then on; a stop's status comes from
the inspections of its target recorded on that day, by anyone. Numbers change only when the inspector asks
to plan again from where they stand, and then only those of the stops still to visit.

Islands are planned apart: the districts' polygons are merged into land parts (the mainland, 涠洲岛, 斜阳岛,
…), each stop belongs to the part it lies on (or the nearest one), and each part gets its own block of
numbers and its own route line, so no leg is drawn across the sea.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, Engine

from geo_safety.crs import geodesic_distance_m
from geo_safety.errors import InvalidInput, OutsideServiceArea
from geo_safety.maps.styles import CATEGORY_CN, HAZARD_KIND_CN, MISSING_CN, REASON_CN
from geo_safety.rules import GUARD_MEASURES, LOCAL_TZ, PremisesCategory
from geo_safety.ruleset import RuleSet
from geo_safety.services.imports import load_service_area
from geo_safety.services.inspections import MAX_PLAN, route, shared_due
from geo_safety.services.navigation import nav_links, tel_link
from geo_safety.services.users import Principal
from geo_safety.shapes.features import DueFeature
from geo_safety.shapes.plans import (
    ChecklistCategory,
    Checklists,
    DayPlan,
    Group,
    Measure,
    MeasureSpec,
    MultiLineString,
    NavLinks,
    ResultChoice,
    Stop,
    Visit,
    ZoneChecklist,
)
from geo_safety.sql import plans as sql_plans

DEFAULT_STOPS = 20
MAINLAND = "mainland"
MAINLAND_CN = "大陆"
#: islands of the service area by an approximate point on them (WGS84): key, Chinese name, lon, lat
ISLAND_NAMES: tuple[tuple[str, str, float, float], ...] = (
    ("weizhou", "涠洲岛", 109.11, 21.04),
    ("xieyang", "斜阳岛", 109.21, 20.91),
)
#: how far (degrees, ~3 km) a named point may lie from a land part and still name it
NAME_REACH_DEG = 0.03
#: district outlines are drawn separately and do not quite meet; this closes the seams (~50 m) between them
SEAM_DEG = 0.0005
#: the due properties a stop keeps from the moment it was planned (why it is on the list)
SNAPSHOT = (
    "name",
    "category",
    "address",
    "district_code",
    "reason",
    "violation",
    "priority",
    "nearest_school_id",
    "nearest_school_name",
    "distance_m",
    "rule_distance_m",
    "last_inspected_on",
    "days_overdue",
)


# --- land parts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LandPart:
    """One piece of land planned on its own: ``key`` is stable for the same district outlines."""

    key: str
    name: str
    polygon: shapely.Polygon


_parts_lock = threading.Lock()
_parts_cache: dict[tuple[int, str], tuple[LandPart, ...]] = {}


def split_land(polygons: list[shapely.Geometry]) -> tuple[LandPart, ...]:
    """The land parts of district outlines: the largest is the mainland, the others islands, largest first.

    Islands near a known point take its name (``ISLAND_NAMES``); the rest are 海岛 1, 海岛 2, … by size.

    >>> main = shapely.box(109.0, 21.3, 109.6, 21.9)
    >>> parts = split_land([main, shapely.box(109.09, 21.01, 109.14, 21.07)])
    >>> [(p.key, p.name) for p in parts]
    [('mainland', '大陆'), ('weizhou', '涠洲岛')]
    """
    if not polygons:
        return ()
    merged = shapely.union_all([shapely.buffer(g, SEAM_DEG) for g in polygons])
    pieces = sorted(shapely.get_parts(merged), key=lambda p: -p.area)
    parts = [LandPart(MAINLAND, MAINLAND_CN, pieces[0])]
    unnamed = 0
    taken: set[str] = set()
    for piece in pieces[1:]:
        name = None
        for key, label, lon, lat in ISLAND_NAMES:
            if key not in taken and piece.distance(shapely.Point(lon, lat)) <= NAME_REACH_DEG:
                name = (key, label)
                taken.add(key)
                break
        if name is None:
            unnamed += 1
            name = (f"island-{unnamed}", f"海岛 {unnamed}")
        parts.append(LandPart(name[0], name[1], piece))
    return tuple(parts)


def land_parts(engine: Engine) -> tuple[LandPart, ...]:
    """The land parts of the districts in the database, computed once per process and outline version."""
    with engine.connect() as conn:
        signature = conn.execute(sql_plans.LAND_SIGNATURE).scalar_one()
        key = (id(engine), signature)
        with _parts_lock:
            found = _parts_cache.get(key)
        if found is not None:
            return found
        rows = conn.execute(sql_plans.DISTRICT_SHAPES).scalars().all()
    parts = split_land([shapely.from_wkb(bytes(r)) for r in rows])
    with _parts_lock:
        _parts_cache[key] = parts
    return parts


def part_of(parts: tuple[LandPart, ...], lon: float, lat: float) -> LandPart | None:
    """The part containing the point, else the nearest one (a coastal stop just off a coarse outline)."""
    if not parts:
        return None
    point = shapely.Point(lon, lat)
    for part in parts:
        if part.polygon.contains(point):
            return part
    return min(parts, key=lambda part: part.polygon.distance(point))  # degrees: enough to tell the nearest


# --- storage ---------------------------------------------------------------------------------------------


def scope_key(districts: tuple[str, ...] | None) -> str:
    """``day_plans.scope``: the district codes, sorted and comma-separated ('' = the whole city)."""
    return ",".join(sorted(districts)) if districts else ""


def _stop_key(stop: dict[str, Any]) -> tuple[str, str]:
    return stop["target_type"], stop["target_id"]


def _load(conn: Connection, user_id: int, day: date, scope: str, *, lock: bool = False) -> Any:
    return conn.execute(
        sql_plans.PLAN_FOR_UPDATE if lock else sql_plans.PLAN,
        {"u": user_id, "d": day, "s": scope},
    ).one_or_none()


def _new_plan(
    engine: Engine, rules: RuleSet, day: date, districts: tuple[str, ...] | None, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first ``limit`` of the due list, each land part routed on its own, mainland first."""
    candidates = shared_due(engine, rules, day, districts).features[:limit]
    parts = land_parts(engine)
    by_part: dict[str, list[DueFeature]] = {}
    for feature in candidates:
        lon, lat = feature.geometry.coordinates[:2]
        part = part_of(parts, lon, lat)
        by_part.setdefault(part.key if part else MAINLAND, []).append(feature)
    names = {p.key: p.name for p in parts} | {MAINLAND: MAINLAND_CN}
    order_of_parts = [p.key for p in parts] or [MAINLAND]
    stops: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    planned_at = datetime.now(LOCAL_TZ).isoformat()
    for key in order_of_parts:
        features = by_part.get(key)
        if not features:
            continue
        routed = [features[k] for k, _ in route([_lonlat(f) for f in features])]
        for feature in routed:
            props = feature.properties
            lon, lat = _lonlat(feature)
            stops.append(
                {
                    "target_type": props.target_type,
                    "target_id": props.target_id,
                    "order": len(stops) + 1,
                    "group": key,
                    "due": {**{k: getattr(props, k) for k in SNAPSHOT}, "lon": lon, "lat": lat},
                }
            )
        groups.append(
            {
                "key": key,
                "name": names[key],
                "start": None,
                "route": [[f.properties.target_type, f.properties.target_id] for f in routed],
                "planned_at": planned_at,
            }
        )
    return stops, groups


def _lonlat(feature: DueFeature) -> tuple[float, float]:
    lon, lat = feature.geometry.coordinates[:2]
    return float(lon), float(lat)


def _get_or_create(
    engine: Engine, rules: RuleSet, user: Principal, day: date, districts: tuple[str, ...] | None, limit: int
) -> None:
    """Store a plan unless one exists; two phones opening the day at once keep the first plan written."""
    scope = scope_key(districts)
    with engine.connect() as conn:
        if _load(conn, user.id, day, scope) is not None:
            return
    stops, groups = _new_plan(engine, rules, day, districts, limit)
    with engine.begin() as conn:
        conn.execute(
            sql_plans.INSERT_PLAN,
            {"u": user.id, "d": day, "s": scope, "stops": _json(stops), "groups": _json(groups)},
        )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PLAN:
        raise InvalidInput(f"limit must be 1..{MAX_PLAN}")


# --- live state ------------------------------------------------------------------------------------------


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, LOCAL_TZ)
    return start, start + timedelta(days=1)


def _visits(conn: Connection, stops: list[dict[str, Any]], day: date) -> dict[tuple[str, str], Visit]:
    """The latest inspection of each stop's target recorded on ``day`` (Asia/Shanghai), by anyone."""
    premises = [s["target_id"] for s in stops if s["target_type"] == "premise"]
    zones = [s["target_id"] for s in stops if s["target_type"] == "water_hazard"]
    if not premises and not zones:
        return {}
    start, end = _day_bounds(day)
    rows = conn.execute(
        sql_plans.DAY_VISITS,
        {"premises": premises, "zones": zones, "start": start, "end": end},
    ).all()
    return {
        (r.target_type, r.target_id): Visit(
            id=r.id,
            result=r.result,
            inspected_at=r.inspected_at.astimezone(LOCAL_TZ).isoformat(),
            inspector=r.inspector,
        )
        for r in rows
    }


def _targets(conn: Connection, stops: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """What the field needs now (name, address, contact, a zone's measures), read live from the layers."""
    premises = [s["target_id"] for s in stops if s["target_type"] == "premise"]
    zones = [s["target_id"] for s in stops if s["target_type"] == "water_hazard"]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if premises:
        for r in conn.execute(sql_plans.PREMISE_TARGETS, {"ids": premises}).mappings():
            found[("premise", r["id"])] = dict(r)
    if zones:
        for r in conn.execute(sql_plans.ZONE_TARGETS, {"ids": zones}).mappings():
            found[("water_hazard", r["id"])] = dict(r)
    return found


def _measures(rules: RuleSet, target: dict[str, Any] | None) -> list[Measure]:
    kind = target.get("kind") if target else None
    return [
        Measure(
            key=m,
            label=MISSING_CN.get(m, m),
            required=m in rules.hazards.required_measures or (m == "fence" and kind in rules.hazards.fence_kinds),
            present=bool(target.get(m)) if target else None,
        )
        for m in GUARD_MEASURES
    ]


def _stop_view(rules: RuleSet, stop: dict[str, Any], target: dict[str, Any] | None, visit: Visit | None) -> Stop:
    """A stored stop (``day_plans.stops``, JSON) as the app shows it, with what the layers and visits say now."""
    due = stop["due"]
    is_zone = stop["target_type"] == "water_hazard"
    name = (target or {}).get("name") or due.get("name") or stop["target_id"]
    category = due.get("category")
    phone = (target or {}).get("phone")
    reason = due.get("reason")
    return Stop(
        order=stop["order"],
        group=stop["group"],
        target_type=stop["target_type"],
        target_id=stop["target_id"],
        name=name,
        category=category,
        category_cn=(HAZARD_KIND_CN if is_zone else CATEGORY_CN).get(category or "", category),
        reason=reason,
        reason_cn=REASON_CN.get(reason or "", reason),
        violation=bool(due.get("violation")),
        priority=due.get("priority"),
        nearest_school_id=due.get("nearest_school_id"),
        nearest_school_name=due.get("nearest_school_name"),
        distance_m=due.get("distance_m"),
        rule_distance_m=due.get("rule_distance_m"),
        last_inspected_on=due.get("last_inspected_on"),
        days_overdue=due.get("days_overdue"),
        address=(target or {}).get("address") or due.get("address"),
        district_code=due.get("district_code"),
        lon=due["lon"],
        lat=due["lat"],
        phone=phone,
        tel=tel_link(phone),
        responsible_person=(target or {}).get("responsible_person"),
        responsible_unit=(target or {}).get("responsible_unit"),
        checklist=list(rules.hazards.checklist if is_zone else rules.checklist_for(category or "")),
        measures=_measures(rules, target) if is_zone else None,
        follow_up_days=rules.recheck_days,
        nav=NavLinks(**nav_links(due["lon"], due["lat"], name)),
        status="done" if visit else "pending",
        visit=visit,
        gone=target is None,
    )


def _line(start: list[float] | None, points: list[tuple[float, float]]) -> tuple[list[list[float]], float]:
    coords = ([list(start)] if start else []) + [[lon, lat] for lon, lat in points]
    if len(coords) < 2:
        return coords, 0.0
    arr = np.asarray(coords, dtype=float)
    legs = geodesic_distance_m(arr[:-1, 0], arr[:-1, 1], arr[1:, 0], arr[1:, 1])
    return coords, round(float(np.sum(legs)), 1)


def _render(conn: Connection, rules: RuleSet, row: Any, day: date, districts: tuple[str, ...] | None) -> DayPlan:
    stops: list[dict[str, Any]] = sorted(row.stops, key=lambda s: s["order"])
    visits = _visits(conn, stops, day)
    targets = _targets(conn, stops)
    views = [_stop_view(rules, s, targets.get(_stop_key(s)), visits.get(_stop_key(s))) for s in stops]
    by_key = {(v.target_type, v.target_id): v for v in views}
    groups: list[Group] = []
    lines: list[list[list[float]]] = []
    total = 0.0
    notices: list[str] = []
    for group in row.groups:
        members = [v for v in views if v.group == group["key"]]
        if not members:
            continue
        path = [by_key[(k[0], k[1])] for k in group["route"] if (k[0], k[1]) in by_key]
        coords, length = _line(group.get("start"), [(v.lon, v.lat) for v in path])
        if len(coords) >= 2:
            lines.append(coords)
        total += length
        groups.append(
            Group(
                key=group["key"],
                name=group["name"],
                mainland=group["key"] == MAINLAND,
                stops=len(members),
                done=sum(v.status == "done" for v in members),
                first_order=min(v.order for v in members),
                last_order=max(v.order for v in members),
                start=group.get("start"),
                planned_at=group.get("planned_at"),
                route_length_m=length,
            )
        )
        if group["key"] != MAINLAND:
            notices.append(f"{group['name']}的 {len(members)} 处检查点单独规划（需乘船前往）")
    pending = [v for v in views if v.status == "pending"]
    return DayPlan(
        date=day.isoformat(),
        districts=list(districts) if districts else None,
        created_at=row.created_at.astimezone(LOCAL_TZ).isoformat(),
        updated_at=row.updated_at.astimezone(LOCAL_TZ).isoformat(),
        total=len(views),
        done=len(views) - len(pending),
        pending=len(pending),
        next_order=pending[0].order if pending else None,
        notice="；".join(notices) or None,
        groups=groups,
        stops=views,
        route=MultiLineString(type="MultiLineString", coordinates=lines),
        route_length_m=round(total, 1),
    )


# --- the operations --------------------------------------------------------------------------------------


def today(
    engine: Engine,
    rules: RuleSet,
    user: Principal,
    day: date,
    districts: tuple[str, ...] | None,
    limit: int = DEFAULT_STOPS,
) -> DayPlan:
    """The stored plan of ``user`` for ``day`` and scope (made from the due list on first call), live statuses.

    ``limit`` only applies when the plan is made; a stored plan keeps its stops.
    """
    _check_limit(limit)
    _get_or_create(engine, rules, user, day, districts, limit)
    with engine.connect() as conn:
        row = _load(conn, user.id, day, scope_key(districts))
        return _render(conn, rules, row, day, districts)


def preview(
    engine: Engine, rules: RuleSet, day: date, districts: tuple[str, ...] | None, limit: int = DEFAULT_STOPS
) -> DayPlan:
    """The plan an inspector would be given, not stored: for the printed map and accounts that do not inspect."""
    _check_limit(limit)
    stops, groups = _new_plan(engine, rules, day, districts, limit)
    now = datetime.now(LOCAL_TZ)
    with engine.connect() as conn:
        return _render(
            conn, rules, SimpleNamespace(stops=stops, groups=groups, created_at=now, updated_at=now), day, districts
        )


def replan(
    engine: Engine,
    rules: RuleSet,
    user: Principal,
    day: date,
    districts: tuple[str, ...] | None,
    position: tuple[float, float],
    limit: int = DEFAULT_STOPS,
) -> DayPlan:
    """Plan the stops still to visit on the land part where the inspector stands again, from ``position`` (WGS84).

    Done stops keep their numbers; the pending stops of that part take the part's remaining numbers in the new
    visiting order. Other parts are left as they were (their route cannot start from here without a boat).
    """
    _check_limit(limit)
    lon, lat = position
    with engine.connect() as conn:
        if not load_service_area(conn).contains(lon, lat):
            raise OutsideServiceArea(f"the position {lon}, {lat} lies outside the service area")
    _get_or_create(engine, rules, user, day, districts, limit)
    parts = land_parts(engine)
    here = part_of(parts, lon, lat)
    here_key = here.key if here else MAINLAND
    message = None
    with engine.begin() as conn:
        row = _load(conn, user.id, day, scope_key(districts), lock=True)
        stops: list[dict[str, Any]] = [dict(s) for s in row.stops]
        groups: list[dict[str, Any]] = [dict(g) for g in row.groups]
        visits = _visits(conn, stops, day)
        pending = sorted(
            (s for s in stops if s["group"] == here_key and _stop_key(s) not in visits), key=lambda s: s["order"]
        )
        group = next((g for g in groups if g["key"] == here_key), None)
        if group is None or not pending:
            name = here.name if here else MAINLAND_CN
            message = f"你所在的{name}没有待检查的检查点，计划未改变 (nothing left to plan on this land part)"
        else:
            routed = [pending[k] for k, _ in route([(s["due"]["lon"], s["due"]["lat"]) for s in pending], (lon, lat))]
            numbers = sorted(s["order"] for s in pending)
            new_order = {_stop_key(s): n for s, n in zip(routed, numbers, strict=True)}
            for stop in stops:
                if _stop_key(stop) in new_order:
                    stop["order"] = new_order[_stop_key(stop)]
            group.update(
                start=[lon, lat],
                route=[list(_stop_key(s)) for s in routed],
                planned_at=datetime.now(LOCAL_TZ).isoformat(),
            )
            conn.execute(
                sql_plans.UPDATE_PLAN,
                {"stops": _json(stops), "groups": _json(groups), "id": row.id},
            )
        row = _load(conn, user.id, day, scope_key(districts))
        answer = _render(conn, rules, row, day, districts)
    notice = message + ("；" + answer.notice if answer.notice else "") if message else answer.notice
    return answer.model_copy(update={"replanned_group": None if message else here_key, "notice": notice})


def _required_for(rules: RuleSet, measure: str) -> str:
    """'all' zones, only the ``fence_kinds`` or 'none' (recorded when found, never missing)."""
    if measure in rules.hazards.required_measures:
        return "all"
    return "fence_kinds" if measure == "fence" else "none"


def checklists(rules: RuleSet) -> Checklists:
    """What the visit form offers to tick, per premises category and for water zones (from the rule file)."""
    return Checklists(
        premises=[
            ChecklistCategory(
                category=c.value, category_cn=CATEGORY_CN.get(c.value, c.value), items=list(rules.checklist_for(c))
            )
            for c in PremisesCategory
        ],
        water_hazard=ZoneChecklist(
            items=list(rules.hazards.checklist),
            measures=[
                MeasureSpec(key=m, label=MISSING_CN.get(m, m), required_for=_required_for(rules, m))
                for m in GUARD_MEASURES
            ],
            fence_kinds=list(rules.hazards.fence_kinds),
        ),
        follow_up_days=rules.recheck_days,
        results=[
            ResultChoice(key="pass", label="合格"),
            ResultChoice(key="fail", label="不合格"),
            ResultChoice(key="closed", label="已关闭"),
            ResultChoice(key="not_found", label="未找到"),
        ],
    )

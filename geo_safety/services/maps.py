"""Gather what a map shows (queries), then hand plain data to ``geo_safety.maps`` for rendering."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, RowMapping, text

from geo_safety import queries
from geo_safety.maps.render import (
    OVERVIEW_TITLE,
    DistrictMapData,
    RenderedPage,
    TodayMapData,
    district_map,
    district_title,
    hazard_editor_map,
    hotspots_map,
    overview_map,
    render_html,
    today_map,
)
from geo_safety.maps.tiles import basemap
from geo_safety.ruleset import RuleSet
from geo_safety.services import cache, hotspots, inspections, links, plans, reports
from geo_safety.services.users import Principal
from geo_safety.settings import Settings


def _features(rows: Any, props: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"type": "Feature", "geometry": json.loads(r.geometry), "properties": {k: getattr(r, k) for k in props}}
        for r in rows
    ]


#: Premises drawn on one map, highest priority first (violations lead): a district at province scale has
#: 50,000 due, which made 9 MB pages that took 25 s to open; the totals are still shown in full.
MAP_POINTS = inspections.SHARED_DUE


def today_map_html(
    engine: Engine,
    rules: RuleSet,
    settings: Settings,
    day: date,
    districts: tuple[str, ...] | None,
    *,
    user: Principal | None = None,
    limit: int = plans.DEFAULT_STOPS,
    inline_assets: bool = False,
) -> RenderedPage:
    """The inspector's map of ``day``: boundary, rule rings, schools, the day's numbered stops and the rest due.

    The stops are the day plan the phone app shows (an inspector's stored plan; for others and the printed
    file, the plan an inspector would get), islands planned apart: the map and the app never disagree.
    """
    scope = list(districts) if districts else None
    tiles = basemap(settings.tiles, settings.tianditu_key)
    if user is not None and user.may("inspect"):
        plan = plans.today(engine, rules, user, day, districts, limit)
    else:
        plan = plans.preview(engine, rules, day, districts, limit)
    everything = inspections.shared_due(engine, rules, day, districts)
    planned = {(s["target_type"], s["target_id"]) for s in plan["stops"]}
    other_due = [
        f
        for f in everything["features"]
        if (f["properties"]["target_type"], f["properties"]["target_id"]) not in planned
    ]
    outline, rings, gates = cache.cached(
        engine,
        ("school-layers", tuple(rules.distances_m), districts),
        lambda: _school_layers(engine, rules, scope),
        districts=districts,
        layers=("districts", "schools"),
    )
    names = "、".join(f["properties"]["name"] for f in outline) or "全市"
    data = TodayMapData(
        day=day.isoformat(),
        title=f"今日巡查 · {names}",
        districts=outline,
        rings=rings,
        schools=gates,
        plan=plan,
        other_due=other_due,
        total_due=everything["numberMatched"],
    )
    return render_html(today_map(data, tiles, inline_assets=inline_assets), data.title, tiles)


def _school_layers(
    engine: Engine, rules: RuleSet, scope: list[str] | None
) -> tuple[list[dict[str, Any]], dict[float, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Outline, rule rings and school gates: they change only with schools and boundaries, not with the day's
    visits, so they are cached apart from the due list (three ring queries were half a map's cost, issue 17)."""
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": scope}), ("code", "name"))
        rings = {
            distance: _features(
                conn.execute(queries.school_buffers(), {"districts": scope, "distance_m": distance}), ("schools",)
            )
            for distance in rules.distances_m
        }
        gates = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {"id": r.id, "name": r.name, "kind": r.kind, "students": r.students},
            }
            for r in conn.execute(queries.school_security(), {"districts": scope})
        ]
    return outline, rings, gates


def hazard_map_html(
    engine: Engine, rules: RuleSet, settings: Settings, day: date, districts: tuple[str, ...] | None, can_edit: bool
) -> RenderedPage:
    """The planners' zone editor for ``districts`` (guard state as of ``day``)."""
    scope = list(districts) if districts else None
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": scope}), ("code", "name"))
    tiles = basemap(settings.tiles, settings.tianditu_key)
    fmap = hazard_editor_map(
        hotspots.zones(engine, rules, day, districts), outline, tiles, can_edit=can_edit, day=day.isoformat()
    )
    return render_html(fmap, "危险水域 Water hazard zones", tiles)


def hotspots_map_html(
    engine: Engine,
    rules: RuleSet,
    settings: Settings,
    day: date,
    districts: tuple[str, ...] | None,
    radius_m: float | None = None,
    *,
    inline_assets: bool = False,
) -> RenderedPage:
    """Drowning hotspots of ``day`` with the schools they threaten."""
    scope = list(districts) if districts else None
    found = hotspots.drowning_hotspots(engine, rules, day, districts, radius_m, limit=hotspots.MAX_PAGE)
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": scope}), ("code", "name"))
    rings = hotspots.school_rings(engine, found, districts)  # schools of the caller's districts only
    names = "、".join(f["properties"]["name"] for f in outline) or "全市"
    title = f"溺水隐患点 · {names}"
    tiles = basemap(settings.tiles, settings.tianditu_key)
    return render_html(hotspots_map(found, rings, outline, tiles, title, inline_assets=inline_assets), title, tiles)


def district_data(engine: Engine, rules: RuleSet, day: date, code: str) -> DistrictMapData:
    """Everything a district map shows (the HTML page and the printed PNG draw the same data)."""
    scope = [code]
    found = hotspots.drowning_hotspots(engine, rules, day, (code,), limit=hotspots.MAX_PAGE)
    premises = inspections.due(engine, rules, day, (code,), limit=MAP_POINTS, with_zones=False, include_all=True)[
        "features"
    ]
    zones = hotspots.zones(engine, rules, day, (code,))
    params = inspections.due_params(rules, day, scope, with_zones=False, include_all=True)
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": scope}), ("code", "name"))
        schools: list[dict[str, Any]] = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {
                    k: getattr(r, k)
                    for k in (
                        "id",
                        "name",
                        "kind",
                        "students",
                        "full_time_guards",
                        "closed_campus",
                        "alarm_linked",
                        "video_linked",
                    )
                },
            }
            for r in conn.execute(queries.school_security(), {"districts": scope})
        ]
        counts: RowMapping | dict[str, int] = (
            conn.execute(queries.due_counts(links.cover_rules(rules)), params).mappings().first() or {}
        )
    recent = reports.programme(engine, rules, day - timedelta(days=29), day, (code,))["total"]
    by_missing: dict[str, int] = {}
    for zone in zones:
        for item in zone["properties"]["missing"]:
            by_missing[item] = by_missing.get(item, 0) + 1
    summary = {
        "schools": len(schools),
        "students": sum(int(s["properties"]["students"]) for s in schools),
        "hotspots": found["numberMatched"],
        "unguarded_zones": sum(1 for z in zones if z["properties"]["missing"]),
        "unguarded_by_missing": by_missing,
        "violations": counts.get("violations", 0),
        "premises_due": counts.get("premises_due", 0),
        "inspections_30d": recent["premise_inspections"] + recent["zone_inspections"],
    }
    return DistrictMapData(day.isoformat(), outline[0], found, premises, schools, summary)


def district_map_html(
    engine: Engine, rules: RuleSet, settings: Settings, day: date, code: str, *, inline_assets: bool = False
) -> RenderedPage:
    data = district_data(engine, rules, day, code)
    tiles = basemap(settings.tiles, settings.tianditu_key)
    return render_html(district_map(data, tiles, inline_assets=inline_assets), district_title(data), tiles)


def overview_data(engine: Engine, rules: RuleSet, day: date) -> list[dict[str, Any]]:
    """The districts with their students, hotspots (and per 10,000 students), overdue premises, violations."""
    found = hotspots.drowning_hotspots(engine, rules, day, None, limit=hotspots.MAX_PAGE)
    per_district: dict[str, int] = {}
    for feature in found["features"]:
        code = feature["properties"]["district_code"]
        per_district[code] = per_district.get(code, 0) + 1
    params = inspections.due_params(rules, day, None, with_zones=False, include_all=True)
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": None}), ("code", "name"))
        rows = conn.execute(queries.due_counts(links.cover_rules(rules)), params).mappings()
        counts = {r["district_code"]: r for r in rows}
        students = {
            r.district_code: int(r.students or 0)
            for r in conn.execute(text("SELECT district_code, sum(students) AS students FROM schools GROUP BY 1"))
        }
    for feature in outline:
        props = feature["properties"]
        code = props["code"]
        props["students"] = students.get(code, 0)
        props["hotspots"] = per_district.get(code, 0)
        props["hotspots_per_10k"] = (
            round(props["hotspots"] / props["students"] * 10_000, 2) if props["students"] else 0.0
        )
        row: RowMapping | dict[str, int] = counts.get(code, {})
        props["overdue_premises"] = row.get("overdue_premises", 0)
        props["violations"] = row.get("violations", 0)
    return outline


def overview_map_html(
    engine: Engine, rules: RuleSet, settings: Settings, day: date, *, inline_assets: bool = False
) -> RenderedPage:
    tiles = basemap(settings.tiles, settings.tianditu_key)
    fmap = overview_map(overview_data(engine, rules, day), day.isoformat(), tiles, inline_assets=inline_assets)
    return render_html(fmap, OVERVIEW_TITLE, tiles)

"""Gather what a map shows (queries), then hand plain data to ``geo_safety.maps`` for rendering."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, RowMapping

from geo_safety.maps import viewdata
from geo_safety.maps.render import (
    DISTRICT_LINE,
    OVERVIEW_TITLE,
    DistrictMapData,
    RenderedPage,
    TodayMapData,
    district_layers,
    district_map,
    district_shell,
    district_title,
    hazard_editor_map,
    hotspots_map,
    overview_map,
    render_html,
    today_layers,
    today_map,
)
from geo_safety.maps.tiles import basemap
from geo_safety.ruleset import RuleSet
from geo_safety.services import cache, hotspots, inspections, links, plans, reports
from geo_safety.services.users import Principal
from geo_safety.settings import Settings
from geo_safety.shapes.features import DueFeature, HotspotCollection
from geo_safety.shapes.plans import DayPlan
from geo_safety.sql import districts as sql_districts
from geo_safety.sql import reads as sql_reads


def _features(rows: Any, props: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"type": "Feature", "geometry": json.loads(r.geometry), "properties": {k: getattr(r, k) for k in props}}
        for r in rows
    ]


#: Premises drawn on one map, highest priority first (violations lead): a district at province scale has
#: 50,000 due, which made 9 MB pages that took 25 s to open; the totals are still shown in full.
MAP_POINTS = inspections.SHARED_DUE


def _plan(
    engine: Engine, rules: RuleSet, day: date, districts: tuple[str, ...] | None, user: Principal | None, limit: int
) -> DayPlan:
    """The day plan the phone app shows (an inspector's stored plan; for others and the printed file, the plan an
    inspector would get), islands planned apart: the map and the app never disagree."""
    if user is not None and user.may("inspect"):
        return plans.today(engine, rules, user, day, districts, limit)
    return plans.preview(engine, rules, day, districts, limit)


def _title(outline: list[dict[str, Any]]) -> str:
    return "今日巡查 · " + ("、".join(f["properties"]["name"] for f in outline) or "全市")


def today_data(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    *,
    user: Principal | None = None,
    limit: int = plans.DEFAULT_STOPS,
) -> TodayMapData:
    """Everything the inspector's map of ``day`` shows: boundary, rule rings, schools, the day's stops, the rest due."""
    plan = _plan(engine, rules, day, districts, user, limit)
    everything = inspections.shared_due(engine, rules, day, districts)
    planned = {(s.target_type, s.target_id) for s in plan.stops}
    other_due = [f for f in everything.features if (f.properties.target_type, f.properties.target_id) not in planned]
    outline = _outline_cached(engine, districts)
    rings, gates = _school_layers_cached(engine, rules, districts)
    return TodayMapData(
        day=day.isoformat(),
        title=_title(outline),
        districts=outline,
        plan=plan,
        rings=rings,
        schools=gates,
        other_due=other_due,
        total_due=everything.numberMatched,
    )


def today_shell_data(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    *,
    user: Principal | None = None,
    limit: int = plans.DEFAULT_STOPS,
) -> TodayMapData:
    """What the served map's shell shows: boundary, the day's stops and the panel's counts. The due list itself is
    not built (its layers come from the data endpoint): after each visit that was a whole-list recomputation per
    page open (issue 17); the total is the due statement's own count."""
    plan = _plan(engine, rules, day, districts, user, limit)
    total = inspections.due_total(engine, rules, day, districts)
    outline = _outline_cached(engine, districts)
    # the data endpoint draws the first SHARED_DUE of the list beside the stops (those overlap)
    shown = min(total, max(inspections.SHARED_DUE, len(plan.stops)))
    return TodayMapData(
        day=day.isoformat(), title=_title(outline), districts=outline, plan=plan, total_due=total, shown=shown
    )


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
    data_url: str | None = None,
) -> RenderedPage:
    """The inspector's map of ``day``. Served (``data_url``): the boundary, the day's numbered stops and the
    panel, with rings, school gates and the rest due loaded for the view from ``data_url``; as a file (no
    ``data_url``): everything embedded."""
    tiles = basemap(settings.tiles, settings.tianditu_key)
    gather = today_data if data_url is None else today_shell_data
    data = gather(engine, rules, day, districts, user=user, limit=limit)
    return render_html(today_map(data, tiles, inline_assets=inline_assets, source=data_url), data.title, tiles)


def today_view_data(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    bbox: viewdata.BBox | None,
    zoom: int | None,
    *,
    user: Principal | None = None,
    limit: int = plans.DEFAULT_STOPS,
) -> dict[str, Any]:
    """The data layers of the inspector's map for one view: computed once per change of the districts' data
    (as the page is), then cut to the view."""
    owner = user.id if user is not None and user.may("inspect") else None  # an inspector's plan is their own
    key = ("today-map-layers", id(rules), day, districts, limit, owner)
    layers = cache.cached(
        engine,
        key,
        lambda: today_layers(today_data(engine, rules, day, districts, user=user, limit=limit)),
        districts=districts,
    )
    return viewdata.view_of(layers, bbox=bbox, zoom=zoom, fixed=[DISTRICT_LINE])


def _school_layers_cached(
    engine: Engine, rules: RuleSet, districts: tuple[str, ...] | None
) -> tuple[dict[float, list[dict[str, Any]]], list[dict[str, Any]]]:
    scope = list(districts) if districts else None
    return cache.cached(
        engine,
        ("school-layers", tuple(rules.distances_m), districts),
        lambda: _school_layers(engine, rules, scope),
        districts=districts,
        layers=("districts", "schools"),
    )


def _outline_cached(engine: Engine, districts: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """The districts' boundary alone, for the map shell: with the rings (a dissolve of every school's buffers, ~0.8 s
    for a province district) it made each process's first page of each district slow (issue 17)."""
    scope = list(districts) if districts else None
    key = ("district-outline", districts)
    return cache.cached(engine, key, lambda: _outline(engine, scope), districts=districts, layers=("districts",))


def _school_layers(
    engine: Engine, rules: RuleSet, scope: list[str] | None
) -> tuple[dict[float, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Rule rings and school gates: they change only with schools and boundaries, not with the day's visits, so
    they are cached apart from the due list (three ring queries were half a map's cost, issue 17)."""
    with engine.connect() as conn:
        rings = {
            distance: _features(
                conn.execute(sql_reads.school_buffers(), {"districts": scope, "distance_m": distance}), ("schools",)
            )
            for distance in rules.distances_m
        }
        gates = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {"id": r.id, "name": r.name, "kind": r.kind, "students": r.students},
            }
            for r in conn.execute(sql_reads.school_security(), {"districts": scope})
        ]
    return rings, gates


def hazard_map_html(
    engine: Engine, rules: RuleSet, settings: Settings, day: date, districts: tuple[str, ...] | None, can_edit: bool
) -> RenderedPage:
    """The planners' zone editor for ``districts`` (guard state as of ``day``)."""
    outline = _outline(engine, list(districts) if districts else None)
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
    found = hotspots.hotspot_collection(engine, rules, day, districts, radius_m, limit=hotspots.MAX_PAGE)
    outline = _outline(engine, list(districts) if districts else None)
    rings = hotspots.school_rings(engine, found, districts)  # schools of the caller's districts only
    names = "、".join(f["properties"]["name"] for f in outline) or "全市"
    title = f"溺水隐患点 · {names}"
    tiles = basemap(settings.tiles, settings.tianditu_key)
    return render_html(hotspots_map(found, rings, outline, tiles, title, inline_assets=inline_assets), title, tiles)


_SECURITY_FIELDS = (
    "id",
    "name",
    "kind",
    "students",
    "full_time_guards",
    "closed_campus",
    "alarm_linked",
    "video_linked",
)


def _outline(engine: Engine, scope: list[str] | None) -> list[dict[str, Any]]:
    """The boundary Features (code, name) of ``scope`` (None: every district)."""
    with engine.connect() as conn:
        return _features(conn.execute(sql_reads.district_outline(), {"districts": scope}), ("code", "name"))


def _district_features(
    engine: Engine, rules: RuleSet, day: date, code: str
) -> tuple[HotspotCollection, list[DueFeature], list[dict[str, Any]]]:
    """A district's hotspots, its premises in scope (due or with violations) and its schools' security."""
    found = hotspots.hotspot_collection(engine, rules, day, (code,), limit=hotspots.MAX_PAGE)
    premises = inspections.due_collection(
        engine, rules, day, (code,), limit=MAP_POINTS, with_zones=False, include_all=True
    ).features
    with engine.connect() as conn:
        schools: list[dict[str, Any]] = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {k: getattr(r, k) for k in _SECURITY_FIELDS},
            }
            for r in conn.execute(sql_reads.school_security(), {"districts": [code]})
        ]
    return found, premises, schools


def district_summary(
    engine: Engine,
    rules: RuleSet,
    day: date,
    code: str,
    *,
    hotspot_count: int | None = None,
    schools: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The counts of a district map's panel (schools, students, hotspots, unguarded zones by what is missing,
    violations, premises due, inspections in the 30 days up to ``day``)."""
    if hotspot_count is None:
        hotspot_count = hotspots.drowning_hotspots(engine, rules, day, (code,), limit=1)["numberMatched"]
    zones = hotspots.zones(engine, rules, day, (code,))
    params = inspections.due_params(rules, day, [code], with_zones=False, include_all=True)
    with engine.connect() as conn:
        if schools is None:
            schools = [
                {"properties": {"students": r.students}}
                for r in conn.execute(sql_reads.school_security(), {"districts": [code]})
            ]
        counts: RowMapping | dict[str, int] = (
            conn.execute(sql_reads.due_counts(links.cover_rules(rules)), params).mappings().first() or {}
        )
    recent = reports.programme(engine, rules, day - timedelta(days=29), day, (code,))["total"]
    by_missing: dict[str, int] = {}
    for zone in zones:
        for item in zone["properties"]["missing"]:
            by_missing[item] = by_missing.get(item, 0) + 1
    return {
        "schools": len(schools),
        "students": sum(int(s["properties"]["students"] or 0) for s in schools),
        "hotspots": hotspot_count,
        "unguarded_zones": sum(1 for z in zones if z["properties"]["missing"]),
        "unguarded_by_missing": by_missing,
        "violations": counts.get("violations", 0),
        "premises_due": counts.get("premises_due", 0),
        "inspections_30d": recent["premise_inspections"] + recent["zone_inspections"],
    }


def district_data(engine: Engine, rules: RuleSet, day: date, code: str) -> DistrictMapData:
    """Everything a district map shows (the written file and the printed PNG draw the same data)."""
    found, premises, schools = _district_features(engine, rules, day, code)
    summary = district_summary(engine, rules, day, code, hotspot_count=found.numberMatched, schools=schools)
    return DistrictMapData(day.isoformat(), _outline(engine, [code])[0], found, premises, schools, summary)


def district_view_data(
    engine: Engine, rules: RuleSet, day: date, code: str, bbox: viewdata.BBox | None, zoom: int | None
) -> dict[str, Any]:
    """What a served district map draws for one view: its layers are computed once per change of the
    district's data (cached), then cut to the view."""

    def make() -> tuple[list[viewdata.Layer], str]:
        found, premises, schools = _district_features(engine, rules, day, code)
        data = DistrictMapData(day.isoformat(), {}, found, premises, schools, {})
        return district_layers(data)

    layers, note = cache.cached(engine, ("district-map-layers", id(rules), day, code), make, districts=(code,))
    return viewdata.view_of(layers, bbox=bbox, zoom=zoom, fixed=[DISTRICT_LINE], note=note)


def district_page_html(
    engine: Engine, rules: RuleSet, settings: Settings, day: date, code: str, *, data_url: str, summary_url: str
) -> RenderedPage:
    """The served district map: a small shell (boundary, panel, controls) that loads its data for the view."""
    district = _outline(engine, [code])[0]
    tiles = basemap(settings.tiles, settings.tianditu_key)
    fmap = district_shell(
        district, day.isoformat(), rules.calendar.notice(day), tiles, source=data_url, summary=summary_url
    )
    return render_html(fmap, f"{district['properties']['name']} 校园安全隐患图", tiles)


def district_map_html(
    engine: Engine, rules: RuleSet, settings: Settings, day: date, code: str, *, inline_assets: bool = False
) -> RenderedPage:
    """A district map with its data embedded (a file)."""
    data = district_data(engine, rules, day, code)
    tiles = basemap(settings.tiles, settings.tianditu_key)
    return render_html(district_map(data, tiles, inline_assets=inline_assets), district_title(data), tiles)


def overview_data(engine: Engine, rules: RuleSet, day: date) -> list[dict[str, Any]]:
    """The districts with their students, hotspots (and per 10,000 students), overdue premises, violations."""
    found = hotspots.hotspot_collection(engine, rules, day, None, limit=hotspots.MAX_PAGE)
    per_district: dict[str, int] = {}
    for hotspot in found.features:
        code = hotspot.properties.district_code
        per_district[code] = per_district.get(code, 0) + 1
    params = inspections.due_params(rules, day, None, with_zones=False, include_all=True)
    outline = _outline(engine, None)  # a fresh copy: its properties are filled in below
    with engine.connect() as conn:
        rows = conn.execute(sql_reads.due_counts(links.cover_rules(rules)), params).mappings()
        counts = {r["district_code"]: r for r in rows}
        students = {r.district_code: int(r.students or 0) for r in conn.execute(sql_districts.STUDENTS)}
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

"""Gather what a map shows (queries), then hand plain data to ``geo_safety.maps`` for rendering."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Engine

from geo_safety import queries
from geo_safety.maps.render import TodayMapData, hazard_editor_map, hotspots_map, render_html, today_map
from geo_safety.maps.tiles import basemap
from geo_safety.ruleset import RuleSet
from geo_safety.services import hotspots, inspections
from geo_safety.settings import Settings


def _features(rows: Any, props: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"type": "Feature", "geometry": json.loads(r.geometry), "properties": {k: getattr(r, k) for k in props}}
        for r in rows
    ]


def today_map_html(
    engine: Engine,
    rules: RuleSet,
    settings: Settings,
    day: date,
    districts: tuple[str, ...] | None,
    *,
    limit: int = 20,
    start: tuple[float, float] | None = None,
    within_m: float | None = None,
    inline_assets: bool = False,
) -> str:
    """The inspector's map of ``day``: boundary, rule rings, schools, the numbered route and the rest due."""
    scope = list(districts) if districts else None
    tiles = basemap(settings.tiles, settings.tianditu_key)
    plan = inspections.today_plan(engine, rules, day, districts, limit=limit, start=start, within_m=within_m)
    everything = inspections.due(engine, rules, day, districts, limit=inspections.MAX_PAGE)
    planned = {f["id"] for f in plan["features"]}
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": scope}), ("code", "name"))
        rings = {
            distance: _features(
                conn.execute(queries.school_buffers(), {"districts": scope, "distance_m": distance}), ("id", "name")
            )
            for distance in rules.distances_m
        }
        gates = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {"id": r.id, "name": r.name, "kind": r.kind, "students": r.students},
            }
            for r in conn.execute(queries.school_gates(), {"districts": scope})
        ]
    names = "、".join(f["properties"]["name"] for f in outline) or "全市"
    data = TodayMapData(
        day=day.isoformat(),
        title=f"今日巡查 Today's inspections · {names}",
        districts=outline,
        rings=rings,
        schools=gates,
        plan=plan,
        other_due=[f for f in everything["features"] if f["id"] not in planned],
        total_due=everything["numberMatched"],
    )
    return render_html(today_map(data, tiles, inline_assets=inline_assets))


def hazard_map_html(
    engine: Engine, rules: RuleSet, settings: Settings, day: date, districts: tuple[str, ...] | None, can_edit: bool
) -> str:
    """The planners' zone editor for ``districts`` (guard state as of ``day``)."""
    scope = list(districts) if districts else None
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": scope}), ("code", "name"))
    fmap = hazard_editor_map(
        hotspots.zones(engine, rules, day, districts),
        outline,
        basemap(settings.tiles, settings.tianditu_key),
        can_edit=can_edit,
        day=day.isoformat(),
    )
    return render_html(fmap)


def hotspots_map_html(
    engine: Engine,
    rules: RuleSet,
    settings: Settings,
    day: date,
    districts: tuple[str, ...] | None,
    radius_m: float | None = None,
    *,
    inline_assets: bool = False,
) -> str:
    """Drowning hotspots of ``day`` with the schools they threaten."""
    scope = list(districts) if districts else None
    found = hotspots.drowning_hotspots(engine, rules, day, districts, radius_m, limit=hotspots.MAX_PAGE)
    with engine.connect() as conn:
        outline = _features(conn.execute(queries.district_outline(), {"districts": scope}), ("code", "name"))
        rings = _features(
            conn.execute(
                queries.schools_near_zones(), {"ids": [f["id"] for f in found["features"]], "radius": found["radius_m"]}
            ),
            ("id", "name", "students"),
        )
    names = "、".join(f["properties"]["name"] for f in outline) or "全市"
    fmap = hotspots_map(
        found,
        rings,
        outline,
        basemap(settings.tiles, settings.tianditu_key),
        f"溺水隐患点 Drowning hotspots · {names}",
        inline_assets=inline_assets,
    )
    return render_html(fmap)

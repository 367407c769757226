"""Data in, ``folium.Map`` out: the field inspector's map of the day."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import folium
import shapely

from geo_safety.maps import styles
from geo_safety.maps.assets import DRAW, HAZARD_EDITOR, HEAT, attach_assets
from geo_safety.maps.controls import (
    HAZARD_FORM,
    HazardEditor,
    HtmlControl,
    Label,
    LocateControl,
    Stops,
    TablePopup,
    legend_html,
)
from geo_safety.maps.page import RenderedPage, render_page

__all__ = ["RenderedPage"]
from geo_safety.maps.tiles import Basemap, image_sources


@dataclass
class TodayMapData:
    """Everything the inspector's map shows; GeoJSON dicts in WGS84."""

    day: str
    title: str
    districts: list[dict[str, Any]]  # Features with properties code, name
    rings: dict[float, list[dict[str, Any]]]  # distance -> buffer Features
    schools: list[dict[str, Any]]  # gate Features
    plan: dict[str, Any]  # today's plan FeatureCollection (ordered, with route)
    other_due: list[dict[str, Any]] = field(default_factory=list)  # due but beyond today's plan
    total_due: int = 0


def _finish(fmap: folium.Map, summary_html: str, inline_assets: bool) -> folium.Map:
    """The parts every field map shares: the summary panel, locate-me, the layer control, local assets."""
    fmap.add_child(HtmlControl(summary_html, position="topright", css_class="gs-panel"))
    fmap.add_child(LocateControl())
    folium.LayerControl(collapsed=True).add_to(fmap)
    attach_assets(fmap, inline=inline_assets)
    return fmap


_STOP_FIELDS = (
    ("route_order", "顺序 Stop"),
    ("name", "名称 Name"),
    ("category_cn", "类别 Category"),
    ("reason_cn", "原因 Reason"),
    ("violation_cn", "违规 Violation"),
    ("school", "最近学校 School"),
    ("distance", "距离 Distance"),
    ("last", "上次检查 Last"),
    ("days_overdue", "逾期天数 Days overdue"),
    ("address", "地址 Address"),
    ("id", "编号 ID"),
)


def stop_properties(props: dict[str, Any]) -> dict[str, Any]:
    """What a stop's popup shows, as plain values (the browser writes them as text)."""
    return {
        "route_order": props.get("route_order"),
        "name": props["name"],
        "category_cn": styles.CATEGORY_CN.get(props["category"], props["category"]),
        "reason_cn": styles.REASON_CN.get(props.get("reason") or "", props.get("reason")),
        "violation": bool(props["violation"]),
        "violation_cn": "是 yes（禁止设立）" if props["violation"] else "否 no",
        "school": props["nearest_school_name"],
        "distance": f"{props['distance_m']:.1f} m（规定 {props['rule_distance_m']:.0f} m）",
        "last": props.get("last_inspected_on") or "从未 never",
        "days_overdue": props.get("days_overdue"),
        "address": props.get("address"),
        "id": props["target_id"],
        "_fill": styles.REASON_COLOUR.get(props.get("reason") or "", "#7f8c8d"),
    }


def _fields(pairs: tuple[tuple[str, str], ...]) -> tuple[list[str], list[str]]:
    return [k for k, _ in pairs], [a for _, a in pairs]


_POINT_FIELDS = (
    ("name", "名称 Name"),
    ("category_cn", "类别 Category"),
    ("reason_cn", "原因 Reason"),
    ("school", "最近学校 School"),
    ("distance", "距离 Distance"),
    ("last", "上次检查 Last"),
    ("id", "编号 ID"),
)


def due_points_layer(features: list[dict[str, Any]], name: str, marker_class: str) -> folium.GeoJson:
    """Many due premises as one GeoJSON layer: compact properties, one shared popup template.

    One folium marker per premise repeated its popup HTML and JavaScript thousands of times (several MB
    for a district); here each premise is a few short properties and coordinates to 6 decimals (~0.1 m).
    """
    compact = []
    for feature in features:
        props = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        reason = styles.REASON_CN.get(props.get("reason") or "", props.get("reason")) or "—"
        compact.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": {
                    "name": props["name"],
                    "category_cn": styles.CATEGORY_CN.get(props["category"], props["category"]),
                    "reason_cn": reason + ("（违规 violation）" if props["violation"] else ""),
                    "school": props["nearest_school_name"],
                    "distance": f"{props['distance_m']:.1f} m / {props['rule_distance_m']:.0f} m",
                    "last": props.get("last_inspected_on") or "从未 never",
                    "id": props["target_id"],
                    "_fill": styles.REASON_COLOUR.get(props.get("reason") or "", "#95a5a6"),
                    "_edge": styles.VIOLATION_COLOUR if props["violation"] else "#fff",
                },
            }
        )
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": compact},
        name=name,
        marker=folium.CircleMarker(radius=5, weight=2, fill_opacity=0.9),
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": f["properties"]["_edge"],
            "className": marker_class,
        },
    )
    layer.add_child(TablePopup(*_fields(_POINT_FIELDS)))
    return layer


def base_map(
    districts: list[dict[str, Any]], basemap: Basemap | None, focus: list[dict[str, Any]] | None = None
) -> folium.Map:
    """Boundary (and basemap) of the districts; opens on ``focus`` features when given, else the districts."""
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=False, zoom_start=12, location=[21.5, 109.2])
    if basemap is not None:
        folium.TileLayer(
            tiles=basemap.url,
            attr=basemap.attribution,
            name=basemap.name,
            subdomains=basemap.subdomains or "abc",
            max_zoom=19,
        ).add_to(fmap)
    if districts:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": districts},
            name="行政区界 District boundary",
            style_function=lambda _: styles.DISTRICT_STYLE,
        )
        layer.add_child(Label("name", "区县 "))
        layer.add_to(fmap)
    if focus or districts:
        fmap.fit_bounds(_bounds(focus or districts), padding=(30, 30))
    return fmap


def _bounds(features: list[dict[str, Any]]) -> list[list[float]]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for f in features:
        walk(f["geometry"]["coordinates"])
    return [[min(ys), min(xs)], [max(ys), max(xs)]]


def add_rings(fmap: folium.Map, rings: dict[float, list[dict[str, Any]]]) -> None:
    for distance, features in sorted(rings.items(), reverse=True):
        if not features:  # folium refuses tooltips on an empty layer; an empty layer shows nothing anyway
            continue
        colour = styles.buffer_colour(distance)
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=f"学校 {distance:.0f} 米范围 {distance:.0f} m rule buffer",
            style_function=lambda _, c=colour: {
                "color": c,
                "weight": 1,
                "fillColor": c,
                "fillOpacity": 0.06,
                "className": "gs-buffer",
            },
        )
        layer.add_child(Label("schools", f"{distance:.0f} 米范围 · 学校 schools: "))
        layer.add_to(fmap)


def add_schools(fmap: folium.Map, schools: list[dict[str, Any]]) -> None:
    if not schools:
        return
    for feature in schools:
        props = feature["properties"]
        props["kind_cn"] = styles.SCHOOL_KIND_CN.get(props.get("kind", ""), props.get("kind"))
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": schools},
        name="学校 Schools",
        marker=folium.CircleMarker(radius=5, color="#fff", weight=1, fill_color=styles.SCHOOL_COLOUR, fill_opacity=1),
    )
    layer.add_child(
        TablePopup(["name", "kind_cn", "students", "id"], ["学校 School", "类型 Kind", "学生 Students", "编号 ID"])
    )
    layer.add_to(fmap)


def add_plan(fmap: folium.Map, plan: dict[str, Any], other_due: list[dict[str, Any]]) -> None:
    stops = folium.FeatureGroup(name="今日巡查路线 Today's route", show=True)
    route = plan.get("route") or {}
    if len(route.get("coordinates", [])) > 1:
        folium.PolyLine(
            [[y, x] for x, y in route["coordinates"]],
            color=styles.ROUTE_COLOUR,
            weight=4,
            opacity=0.8,
            dash_array="8 6",
            class_name="gs-route",
        ).add_to(stops)
    if plan.get("start"):
        start_icon = folium.DivIcon(
            html='<div class="gs-start" title="起点 start">起</div>',
            icon_size=(22, 22),
            icon_anchor=(11, 11),
            class_name="gs-start-icon",
        )
        folium.Marker(plan["start"][::-1], icon=start_icon, title="起点 Start").add_to(stops)
    stops.add_child(
        Stops(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": f["geometry"], "properties": stop_properties(f["properties"])}
                    for f in plan["features"]
                ],
            },
            *_fields(_STOP_FIELDS),
        )
    )
    stops.add_to(fmap)
    if other_due:
        due_points_layer(other_due, "其他待查场所 Other due premises", "gs-other-due").add_to(fmap)


def today_map(data: TodayMapData, basemap: Basemap | None = None, *, inline_assets: bool = False) -> folium.Map:
    # a phone screen opens on the day's stops, not the whole district
    fmap = base_map(data.districts, basemap, focus=data.plan["features"])
    add_rings(fmap, data.rings)
    add_schools(fmap, data.schools)
    add_plan(fmap, data.plan, data.other_due)
    rows = [("dot", styles.REASON_COLOUR[r], styles.REASON_CN[r]) for r in styles.REASON_COLOUR]
    rows.append(("ring", styles.VIOLATION_COLOUR, "违规（禁止设立）violation"))
    rows.append(("line", styles.ROUTE_COLOUR, "建议路线 suggested route"))
    rows.append(("dot", styles.SCHOOL_COLOUR, "学校校门 school gate"))
    rows += [("ring", styles.buffer_colour(d), f"{d:.0f} 米范围 rule buffer") for d in sorted(data.rings)]
    fmap.add_child(HtmlControl(legend_html("图例 Legend", rows)))
    length_km = (data.plan.get("route_length_m") or 0) / 1000
    summary = (
        f"<h4>{html.escape(data.title)}</h4><div>日期 Date: {data.day}</div>"
        f"<div>今日计划 Plan: <b class='gs-plan-count'>{len(data.plan['features'])}</b> 处，"
        f"路线 {length_km:.1f} km</div>"
        f"<div>待查合计 Due in total: <b class='gs-total-due'>{data.total_due}</b></div>"
    )
    shown = len(data.plan["features"]) + len(data.other_due)
    if shown < data.total_due:
        summary += f"<div>地图显示优先级最高的 {shown} 处 (the {shown} most urgent are drawn)</div>"
    return _finish(fmap, summary, inline_assets)


def hazard_editor_map(
    zones: list[dict[str, Any]],
    districts: list[dict[str, Any]],
    basemap: Basemap | None,
    *,
    can_edit: bool,
    day: str,
) -> folium.Map:
    """The planners' map: zones green (guarded on ``day``) or red (unguarded); draw, edit, delete, save."""
    fmap = base_map(districts, basemap)
    summary = (
        f"<h4>危险水域 Water hazard zones</h4><div>日期 Date: {day}</div>"
        f"<div>水域 Zones: <b class='gs-zone-count'>{len(zones)}</b>，"
        f"未达标 unguarded: <b class='gs-unguarded-count'>{sum(1 for z in zones if not z['properties']['guarded'])}</b>"
        "</div><div id='gs-status'></div>"
    )
    fmap.add_child(HtmlControl(summary, position="topright", css_class="gs-panel"))
    if can_edit:
        fmap.add_child(HtmlControl(HAZARD_FORM, position="topright", css_class="gs-panel gs-form-panel"))
    rows = [("dot", "#27ae60", "已落实防护 guarded"), ("dot", "#e74c3c", "未落实 unguarded (措施/责任人/巡查缺失)")]
    # bottom left: the zone form grows down the right-hand side and its Save button must stay reachable
    fmap.add_child(HtmlControl(legend_html("图例 Legend", rows), position="bottomleft"))
    fmap.add_child(LocateControl())
    fmap.add_child(HazardEditor(zones, can_edit))
    attach_assets(fmap, [*DRAW, HAZARD_EDITOR])
    return fmap


def risk_breaks(scores: list[float], classes: int = len(styles.RISK_COLOURS)) -> list[float]:
    """Upper bounds of equal-count risk classes (quantiles), so colours spread over the map's hotspots.

    >>> risk_breaks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    [2.8, 4.6, 6.4, 8.2, 10.0]
    """
    if not scores:
        return []
    ordered = sorted(scores)
    breaks = []
    for k in range(1, classes + 1):
        position = (len(ordered) - 1) * k / classes
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        breaks.append(round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2))
    return breaks


def risk_colour(score: float, breaks: list[float]) -> str:
    for colour, bound in zip(styles.RISK_COLOURS, breaks, strict=False):
        if score <= bound:
            return colour
    return styles.RISK_COLOURS[-1]


def hotspots_map(
    hotspots: dict[str, Any],
    rings: list[dict[str, Any]],
    districts: list[dict[str, Any]],
    basemap: Basemap | None,
    title: str,
    *,
    inline_assets: bool = False,
) -> folium.Map:
    """Drowning hotspots coloured by risk, the schools they threaten with their radius rings, whom to call."""
    features = hotspots["features"]
    fmap = base_map(districts, basemap, focus=features or None)
    radius = hotspots["radius_m"]
    if rings:  # an empty layer draws nothing
        labelled = [
            {
                "type": "Feature",
                "geometry": r["geometry"],
                "properties": {"label": f"学校 {r['properties']['name']} · 学生 {r['properties']['students']}"},
            }
            for r in rings
        ]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": labelled},
            name=f"学校 {radius:.0f} 米范围 {radius:.0f} m around schools",
            style_function=lambda _: {
                "color": styles.SCHOOL_COLOUR,
                "weight": 1,
                "fill": False,
                "dashArray": "4 4",
                "className": "gs-school-ring",
            },
        ).add_child(Label("label")).add_to(fmap)
    breaks = _add_hotspots(fmap, features)
    lower = [0.0, *breaks[:-1]]
    rows = [
        ("dot", c, f"风险 {lo:.0f}–{hi:.0f}") for c, lo, hi in zip(styles.RISK_COLOURS, lower, breaks, strict=False)
    ]
    rows.append(("ring", styles.SCHOOL_COLOUR, f"学校 {radius:.0f} 米范围 school radius"))
    fmap.add_child(HtmlControl(legend_html("图例 Legend", rows)))
    key = hotspots.get("key_period")
    summary = (
        f"<h4>{html.escape(title)}</h4><div>日期 Date: {hotspots['date']}"
        f"{'（重点时段 key period: ' + html.escape(key) + '）' if key else ''}</div>"
        f"<div>隐患点 Hotspots: <b class='gs-hotspot-count'>{hotspots['numberMatched']}</b></div>"
    )
    return _finish(fmap, summary, inline_assets)


@dataclass
class DistrictMapData:
    """One district's picture on a date: GeoJSON dicts in WGS84 plus the summary counts."""

    day: str
    district: dict[str, Any]  # the boundary Feature (properties code, name)
    hotspots: dict[str, Any]  # FeatureCollection from the hotspot query
    premises: list[dict[str, Any]]  # in-scope premises (due or with violations), from the due query
    schools: list[dict[str, Any]]  # gate Features with the four security flags
    summary: dict[str, Any]


SECURITY_CN = {
    "full_time_guards": "专职保安",
    "closed_campus": "封闭管理",
    "alarm_linked": "一键报警",
    "video_linked": "视频联网",
}


def _summary_html(title: str, day: str, summary: dict[str, Any]) -> str:
    missing = (
        "".join(
            f"<li>{styles.MISSING_CN.get(k, k)}：{v}</li>" for k, v in sorted(summary["unguarded_by_missing"].items())
        )
        or "<li>无 none</li>"
    )
    rows = [
        ("学校 Schools", summary["schools"]),
        ("学生 Students", summary["students"]),
        ("溺水隐患点 Hotspots", summary["hotspots"]),
        ("未达标水域 Unguarded zones", summary["unguarded_zones"]),
        ("违规场所 Violations", summary["violations"]),
        ("待查场所 Premises due", summary["premises_due"]),
        ("近30天检查 Inspections (30 d)", summary["inspections_30d"]),
    ]
    body = "".join(f"<tr><th>{k}</th><td class='gs-{i}'>{v}</td></tr>" for i, (k, v) in enumerate(rows))
    return (
        f"<h4>{html.escape(title)}</h4><div>日期 Date: {day}</div><table class='gs-summary'>{body}</table>"
        f"<div>未达标原因 Missing:</div><ul class='gs-missing'>{missing}</ul>"
    )


def district_title(data: DistrictMapData) -> str:
    return f"{data.district['properties']['name']} 校园安全隐患图 District safety map"


def district_map(data: DistrictMapData, basemap: Basemap | None, *, inline_assets: bool = False) -> folium.Map:
    """A district's hotspots (polygons, markers and a heat layer by risk), premises, schools by compliance."""
    from folium.plugins import HeatMap

    fmap = base_map([data.district], basemap)
    hotspot_features = data.hotspots["features"]
    if hotspot_features:
        heat = []
        for feature in hotspot_features:
            point = shapely.point_on_surface(shapely.geometry.shape(feature["geometry"]))
            heat.append([point.y, point.x, feature["properties"]["risk_score"]])
        top = max(h[2] for h in heat) or 1.0
        HeatMap(
            [[y, x, w / top] for y, x, w in heat], name="风险热力 Risk heat", radius=30, blur=20, min_opacity=0.3
        ).add_to(fmap)
    _add_hotspots(fmap, hotspot_features)
    shown = [f for f in data.premises if f["properties"]["reason"] is not None or f["properties"]["violation"]]
    violating = [f for f in shown if f["properties"]["violation"]]
    for features, name, marker_class in (
        (violating, "违规场所 Premises with violations", "gs-violation-marker"),
        ([f for f in shown if not f["properties"]["violation"]], "待查场所 Premises due", "gs-due-marker"),
    ):
        if features:
            due_points_layer(features, name, marker_class).add_to(fmap)
    compact = []
    for feature in data.schools:
        props = feature["properties"]
        lacking = [SECURITY_CN[k] for k in SECURITY_CN if not props[k]]
        colour = "#1e8449" if not lacking else ("#d68910" if len(lacking) == 1 else "#922b21")
        compact.append(
            {
                "type": "Feature",
                "geometry": feature["geometry"],
                "properties": {
                    "name": f"{props['name']}（{props['students']} 人）",
                    "security": "四项达标 all four items" if not lacking else "缺 lacks: " + "、".join(lacking),
                    "_fill": colour,
                },
            }
        )
    if compact:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": compact},
            name="学校（安防达标情况）Schools by security compliance",
            marker=folium.CircleMarker(radius=6, color="#fff", weight=2, fill_opacity=1),
            style_function=lambda f: {"fillColor": f["properties"]["_fill"], "className": "gs-school-marker"},
        ).add_child(TablePopup(["name", "security"], ["学校 School", "安防 Security"])).add_to(fmap)
    rows = [("dot", c, f"隐患风险 risk class {i + 1}") for i, c in enumerate(styles.RISK_COLOURS)]
    rows += [
        ("ring", styles.VIOLATION_COLOUR, "违规场所 violation"),
        ("dot", styles.REASON_COLOUR["overdue"], "待查场所 due (颜色=原因)"),
        ("dot", "#1e8449", "学校四项达标 school compliant"),
        ("dot", "#d68910", "缺一项 lacks one"),
        ("dot", "#922b21", "缺多项 lacks several"),
    ]
    fmap.add_child(HtmlControl(legend_html("图例 Legend", rows)))
    title = district_title(data)
    fmap.add_child(HtmlControl(_summary_html(title, data.day, data.summary), position="topright", css_class="gs-panel"))
    folium.LayerControl(collapsed=True).add_to(fmap)
    attach_assets(fmap, [HEAT], inline=inline_assets)
    return fmap


_HOTSPOT_FIELDS = (
    ("zone", "水域 Zone"),
    ("missing_cn", "缺少 Missing"),
    ("risk", "风险 Risk score"),
    ("schools", "附近学校 Schools"),
    ("nearest", "最近学校 Nearest"),
    ("unit", "责任单位 Unit"),
    ("person", "责任人 Person"),
    ("phone_no", "电话 Phone"),
    ("hazard_id", "编号 ID"),
)


def _add_hotspots(fmap: folium.Map, features: list[dict[str, Any]]) -> list[float]:
    """Hotspot shapes and, at their centres, markers sized by risk class: two layers, one popup template.

    One folium layer per hotspot repeated the popup's HTML and JavaScript hundreds of times per district.
    """
    breaks = risk_breaks([f["properties"]["risk_score"] for f in features])
    shapes, markers = [], []
    for feature in features:
        props = feature["properties"]
        colour = risk_colour(props["risk_score"], breaks)
        shown = {
            "zone": f"{props['name']}（{styles.HAZARD_KIND_CN.get(props['kind'], props['kind'])}）",
            "missing_cn": "、".join(styles.MISSING_CN.get(m, m) for m in props["missing"]),
            "risk": f"{props['risk_score']:.1f}",
            "schools": f"{props['schools_within']} 所，学生 {props['students_within']} 人",
            "nearest": (
                f"{props['nearest_school_name']}（{props['distance_m']:.0f} m）"
                if props.get("nearest_school_name")
                else f"其他区县学校 {props.get('schools_in_other_districts', 0)} 所 (schools of other districts)"
            ),
            "unit": props.get("responsible_unit") or "—",
            "person": props.get("responsible_person") or "未明确 none named",
            "phone_no": props.get("phone") or "—",
            "hazard_id": props["hazard_id"],
            "_fill": colour,
            "_radius": 5 + 2 * styles.RISK_COLOURS.index(colour),
        }
        shapes.append({"type": "Feature", "geometry": feature["geometry"], "properties": shown})
        # a small pond is a speck at district scale: a marker sized by risk class keeps it visible
        point = shapely.point_on_surface(shapely.geometry.shape(feature["geometry"]))
        centre = {"type": "Point", "coordinates": [round(point.x, 6), round(point.y, 6)]}
        markers.append({"type": "Feature", "geometry": centre, "properties": shown})
    if not features:
        return breaks
    popup = _fields(_HOTSPOT_FIELDS)
    layer = folium.FeatureGroup(name="溺水隐患点 Drowning hotspots")
    folium.GeoJson(
        {"type": "FeatureCollection", "features": shapes},
        style_function=lambda f: {
            "color": "#4a0010",
            "weight": 1,
            "fillColor": f["properties"]["_fill"],
            "fillOpacity": 0.8,
            "className": "gs-hotspot",
        },
    ).add_child(TablePopup(*popup)).add_child(Label("zone")).add_to(layer)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": markers},
        marker=folium.CircleMarker(color="#4a0010", weight=1, fill_opacity=0.9),
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "radius": f["properties"]["_radius"],
            "className": "gs-hotspot-marker",
        },
    ).add_child(TablePopup(*popup)).add_to(layer)
    layer.add_to(fmap)
    return breaks


_OVERVIEW_FIELDS = (
    ("name", "区县 District"),
    ("students", "学生 Students"),
    ("hotspots", "溺水隐患点 Hotspots"),
    ("per_10k", "每万名学生 Per 10,000 students"),
    ("overdue", "超期未查场所 Overdue premises"),
    ("violations", "违规场所 Violations"),
)


OVERVIEW_TITLE = "全市概览 City overview"


def overview_map(
    districts: list[dict[str, Any]], day: str, basemap: Basemap | None, *, inline_assets: bool = False
) -> folium.Map:
    """The city: districts shaded by unguarded hotspots per 10,000 students, and by overdue premises."""
    fmap = base_map(districts, basemap)
    shades = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")
    for key, label, show in (
        ("hotspots_per_10k", "每万名学生溺水隐患点 Hotspots per 10,000 students", True),
        ("overdue_premises", "超期未查场所 Overdue premises", False),
    ):
        values = [d["properties"][key] for d in districts]
        top = max(values) or 1
        layer = folium.FeatureGroup(name=label, show=show)
        for feature in districts:
            props = feature["properties"]
            shade = shades[min(int(props[key] / top * (len(shades) - 1) + 0.5), len(shades) - 1)]
            shown = {
                "name": props["name"],
                "students": props["students"],
                "hotspots": props["hotspots"],
                "per_10k": f"{props['hotspots_per_10k']:.2f}",
                "overdue": props["overdue_premises"],
                "violations": props["violations"],
            }
            folium.GeoJson(
                {"type": "Feature", "geometry": feature["geometry"], "properties": shown},
                style_function=lambda _, c=shade: {
                    "color": "#34495e",
                    "weight": 1.5,
                    "fillColor": c,
                    "fillOpacity": 0.75,
                    "className": "gs-district",
                },
            ).add_child(TablePopup(*_fields(_OVERVIEW_FIELDS))).add_child(Label("name")).add_to(layer)
        layer.add_to(fmap)
    rows = [
        ("dot", c, f"{'低 low' if i == 0 else '高 high' if i == len(shades) - 1 else ''}") for i, c in enumerate(shades)
    ]
    fmap.add_child(HtmlControl(legend_html("图例 Legend（按图层最大值分级）", rows)))
    links = "".join(
        f"<li><a href='/maps/districts/{quote(str(d['properties']['code']))}?date={quote(day)}'>"
        f"{html.escape(d['properties']['name'])}</a></li>"
        for d in districts
    )
    fmap.add_child(
        HtmlControl(
            f"<h4>{OVERVIEW_TITLE}</h4><div>日期 Date: {html.escape(day)}</div><ul>{links}</ul>",
            position="topright",
            css_class="gs-panel",
        )
    )
    folium.LayerControl(collapsed=False).add_to(fmap)
    attach_assets(fmap, inline=inline_assets)
    return fmap


def items_map(title: str, features: list[dict[str, Any]], counts: str, pages: list[tuple[str, str]]) -> folium.Map:
    """A page of an OGC API collection as a small map, with links to the previous and next page."""
    fmap = folium.Map(tiles=None, location=[21.6, 109.3], zoom_start=9, control_scale=True)
    if features:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=title,
            marker=folium.CircleMarker(radius=4, color="#1f5fbf", fill=True),
        )
        keys = list(dict.fromkeys(k for f in features for k in (f.get("properties") or {})))
        layer.add_child(TablePopup(keys, keys)).add_child(Label("name"))
        layer.add_to(fmap)
        fmap.fit_bounds(layer.get_bounds())
    nav = "".join(f"<a href='{html.escape(href)}'>{html.escape(label)}</a><br>" for label, href in pages)
    panel = f"<h4>{html.escape(title)}</h4><div>{html.escape(counts)}</div>{nav}"
    fmap.add_child(HtmlControl(panel, position="topright", css_class="gs-panel"))
    attach_assets(fmap)
    return fmap


def render_html(fmap: folium.Map, title: str, basemap: Basemap | None = None) -> RenderedPage:
    """The page of a map, with the CSP that allows exactly its own inline blocks (see ``maps.page``)."""
    return render_page(fmap, title, image_sources(basemap))

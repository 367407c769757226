"""Data in, ``folium.Map`` out: the field inspector's map of the day."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import folium
import shapely
from branca.element import Element, Figure

from geo_safety.maps import styles
from geo_safety.maps.assets import GEOMAN, HAZARD_EDITOR, HEAT, MAP_DATA, Asset, attach_assets
from geo_safety.maps.controls import (
    DataLayers,
    HazardEditor,
    HtmlControl,
    Label,
    LocateControl,
    MetricScale,
    Stops,
    TablePopup,
    hazard_sidebar,
    legend_html,
)
from geo_safety.maps.page import RenderedPage, render_page
from geo_safety.maps.viewdata import DETAIL_MIN_ZOOM, Layer, Symbol, area, point, view_of

__all__ = ["RenderedPage", "Symbol"]
from geo_safety.maps.tiles import Basemap, image_sources
from geo_safety.shapes.features import DueFeature, HotspotCollection, HotspotFeature
from geo_safety.shapes.geojson import MultiPolygon, Polygon
from geo_safety.shapes.plans import DayPlan, Stop


@dataclass(frozen=True)
class TodayMapData:
    """Everything the inspector's map shows, in WGS84; read only (the due list and plan may be shared, cached).

    A served page's shell carries only the boundary, the plan and the counts: rings, gates and ``other_due`` come
    from its data endpoint, and ``shown`` says how many due targets that draws.
    """

    day: str
    title: str
    districts: list[dict[str, Any]]  # GeoJSON Features with properties code, name
    plan: DayPlan  # today's stops (ordered, with route)
    rings: dict[float, list[dict[str, Any]]] = field(default_factory=dict)  # distance -> buffer Features
    schools: list[dict[str, Any]] = field(default_factory=list)  # gate Features
    other_due: list[DueFeature] = field(default_factory=list)  # due but beyond today's plan
    total_due: int = 0
    shown: int | None = None  # due targets the map draws (None: the plan's stops and ``other_due``)


def _finish(fmap: folium.Map, summary_html: str, inline_assets: bool, extra: list[Asset] | None = None) -> folium.Map:
    """The parts every field map shares: the summary panel, locate-me, the layer control, local assets.
    Maps with data layers (``extra`` holds ``MAP_DATA``) get theirs from ``mapdata.js``, which adds them to
    its own layer control."""
    fmap.add_child(HtmlControl(summary_html, position="topright", css_class="gs-panel"))
    fmap.add_child(LocateControl())
    if MAP_DATA not in (extra or []):
        folium.LayerControl(collapsed=True).add_to(fmap)
    attach_assets(fmap, extra, inline=inline_assets)
    return fmap


_STOP_FIELDS = (
    ("route_order", "顺序"),
    ("name", "名称"),
    ("category_cn", "类别"),
    ("reason_cn", "原因"),
    ("violation_cn", "违规"),
    ("school", "最近学校"),
    ("distance", "距离"),
    ("last", "上次检查"),
    ("days_overdue", "逾期天数"),
    ("address", "地址"),
    ("today", "今日检查结果"),
    ("id", "编号"),
)


def stop_properties(stop: Stop) -> dict[str, Any]:
    """What a stop of the day plan shows in its popup, as plain values (the browser writes them as text)."""
    distance, rule = stop.distance_m, stop.rule_distance_m
    result = stop.visit.result if stop.visit else None
    return {
        "route_order": stop.order,
        "name": stop.name,
        "category_cn": stop.category_cn or stop.category,
        "reason_cn": stop.reason_cn or styles.REASON_CN.get(stop.reason or "", stop.reason),
        "violation": stop.violation,
        "violation_cn": "是（禁止设立）" if stop.violation else "否",
        "school": stop.nearest_school_name,
        "distance": None if distance is None else f"{distance:.1f} 米" + (f"（规定 {rule:.0f} 米）" if rule else ""),
        "last": stop.last_inspected_on or "从未检查",
        "days_overdue": stop.days_overdue,
        "address": stop.address,
        "today": RESULT_CN.get(result or ""),
        "id": stop.target_id,
        "done": stop.status == "done",
        "result": result,
        "_fill": styles.REASON_COLOUR.get(stop.reason or "", "#7f8c8d"),
    }


RESULT_CN = {"pass": "合格", "fail": "不合格", "closed": "已关闭", "not_found": "未找到"}


def _fields(pairs: tuple[tuple[str, str], ...]) -> tuple[list[str], list[str]]:
    return [k for k, _ in pairs], [a for _, a in pairs]


_POINT_FIELDS = (
    ("name", "名称"),
    ("category_cn", "类别"),
    ("reason_cn", "原因"),
    ("school", "最近学校"),
    ("distance", "距离"),
    ("last", "上次检查"),
    ("id", "编号"),
)


def premise_layer(features: Sequence[DueFeature], key: str, name: str, marker_class: str) -> Layer:
    """Due premises as one data layer: a few short properties each, one shared popup; fill and edge as
    ``due_symbols`` (the legend) draws them."""
    compact = []
    for feature in features:
        props = feature.properties
        lon, lat = feature.geometry.coordinates[:2]
        reason = styles.REASON_CN.get(props.reason or "", props.reason) or "—"
        fill, edge = _point_style(props.reason, props.violation)
        compact.append(
            point(
                lon,
                lat,
                {
                    "name": props.name,
                    "category_cn": styles.CATEGORY_CN.get(props.category, props.category),
                    "reason_cn": reason + ("（违规）" if props.violation else ""),
                    "school": props.nearest_school_name,
                    "distance": f"{props.distance_m:.1f} 米 / 规定 {props.rule_distance_m:.0f} 米",
                    "last": props.last_inspected_on or "从未检查",
                    "id": props.target_id,
                    "reason": props.reason,
                    "violation": props.violation,
                    "_fill": fill,
                    "_edge": edge,
                },
            )
        )
    return Layer(
        key,
        name,
        "points",
        compact,
        style={"radius": 5, "weight": 2, "fill": True, "fillOpacity": 0.9, "className": marker_class},
        popup=_fields(_POINT_FIELDS),
        symbols=due_symbols,
    )


def legend(title: str, symbols: list[Symbol], note: str = "", layer: str | None = None) -> str:
    """A legend whose swatches carry their colours as data (``map.js`` paints them; no inline style).

    >>> legend("图例", [Symbol("dot", "#c0392b", "#ffffff", "待查 <b>")])  # doctest: +NORMALIZE_WHITESPACE
    '<div class="gs-legend-part"><h4>图例</h4><div class="gs-row"><span class="gs-sym gs-sym-dot gs-size-0"
    data-fill="#c0392b" data-edge="#ffffff"></span>待查 &lt;b&gt;</div></div>'
    """
    rows = []
    for s in symbols:
        attrs = "".join(
            f' data-{k}="{html.escape(v)}"' for k, v in (("fill", s.fill), ("edge", s.edge)) if v is not None
        )
        rows.append(
            f'<div class="gs-row"><span class="gs-sym gs-sym-{s.shape} gs-size-{s.size}"{attrs}></span>'
            f"{html.escape(s.label)}</div>"
        )
    hidden = f' data-layer="{html.escape(layer)}"' if layer else ""
    foot = f'<div class="gs-note">{html.escape(note)}</div>' if note else ""
    return f'<div class="gs-legend-part"{hidden}><h4>{html.escape(title)}</h4>{"".join(rows)}{foot}</div>'


def _point_style(reason: str | None, violation: bool) -> tuple[str, str]:
    """(fill, edge) of a premise marker: fill by reason, a purple edge for a violation, else white."""
    fill = styles.REASON_COLOUR.get(reason or "", styles.NO_REASON_COLOUR)
    return fill, styles.VIOLATION_COLOUR if violation else styles.DUE_EDGE


def due_symbols(features: list[dict[str, Any]]) -> list[Symbol]:
    """Legend rows for the premise markers actually drawn: each reason's colour, ringed as drawn."""
    drawn = {(f["properties"].get("reason"), bool(f["properties"]["violation"])) for f in features}
    symbols = []
    for violation in (True, False):
        for reason in (*styles.REASON_COLOUR, None):
            if (reason, violation) not in drawn:
                continue
            fill, edge = _point_style(reason, violation)
            what = styles.REASON_CN[reason] if reason else "当前无需检查"
            label = f"违规场所（紫圈）· {what}" if violation else f"待查场所 · {what}"
            symbols.append(Symbol("dot", fill, edge, label))
    return symbols


DISTRICT_LINE = Symbol("dashed", None, styles.DISTRICT_STYLE["color"], "行政区界")


def risk_class(score: float, breaks: list[float]) -> int:
    """0 (低), 1 (中) or 2 (高)."""
    for index, bound in enumerate(breaks):
        if score <= bound:
            return index
    return len(styles.RISK_CLASSES) - 1


def hotspot_symbols(scores: list[float], breaks: list[float] | None = None) -> tuple[list[Symbol], str]:
    """Legend rows of the named risk classes drawn on this map (of ``breaks``, by default the terciles of
    ``scores``), and a note on what they mean."""
    if not scores:
        return [], "本图无溺水隐患点。"
    breaks = breaks or risk_breaks(scores)
    present = {risk_class(s, breaks) for s in scores}
    lower = [min(scores), *breaks[:-1]]
    symbols = []
    for index in sorted(present, reverse=True):
        name, colour = styles.RISK_CLASSES[index]
        if index == 0:
            span = f"≤ {breaks[0]:,.0f}"
        elif index == len(breaks) - 1:
            span = f"> {lower[index]:,.0f}"
        else:
            span = f"{lower[index]:,.0f}–{breaks[index]:,.0f}"
        symbols.append(Symbol("dot", colour, styles.HOTSPOT_EDGE, f"{name}风险隐患点（风险分 {span}）", size=index))
    note = (
        f"分级：按本图 {len(scores)} 个隐患点风险分的三分位数，高 = 风险最高的三分之一。"
        "风险分 = 附近学生数 × 距离衰减 × 水域类型权重 × 缺失措施加成。"
    )
    return symbols, note


ISLAND_GAP_M = 20_000  # parts of a district farther than this from its largest part are islands


def _metric(geometry: Any, lat: float) -> Any:
    """A local equirectangular copy in metres (good to ~1% over a district)."""
    import math

    kx, ky = 111_320 * math.cos(math.radians(lat)), 110_540
    return shapely.transform(geometry, lambda c: c * [kx, ky])


def split_islands(district: dict[str, Any]) -> tuple[Any, list[tuple[str, Any]]]:
    """The district's mainland (its largest part and every part within ``ISLAND_GAP_M`` of it, transitively)
    and its island groups farther out, each named after the islands of ``styles.ISLANDS`` it holds.

    >>> land = {"geometry": {"type": "MultiPolygon", "coordinates": [
    ...     [[[109.0, 21.5], [109.2, 21.5], [109.2, 21.6], [109.0, 21.6], [109.0, 21.5]]],
    ...     [[[109.1, 21.03], [109.13, 21.03], [109.13, 21.06], [109.1, 21.06], [109.1, 21.03]]]]}}
    >>> mainland, islands = split_islands(land)
    >>> [name for name, _ in islands], round(mainland.bounds[1], 2)
    (['涠洲岛'], 21.5)
    """
    geometry = shapely.geometry.shape(district["geometry"])
    parts = sorted(getattr(geometry, "geoms", [geometry]), key=lambda p: -p.area)
    lat = parts[0].centroid.y
    metric = [_metric(p, lat) for p in parts]
    groups = [[i] for i in range(len(parts))]
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if any(metric[i].distance(metric[j]) < ISLAND_GAP_M for i in groups[a] for j in groups[b]):
                    groups[a] += groups.pop(b)
                    merged = True
                    break
            if merged:
                break
    mainland_group = next(g for g in groups if 0 in g)
    mainland = shapely.union_all([parts[i] for i in mainland_group])
    islands = []
    for group in groups:
        if group is mainland_group:
            continue
        shape = shapely.union_all([parts[i] for i in group])
        names = [n for n, (x, y) in styles.ISLANDS.items() if shape.buffer(0.03).contains(shapely.Point(x, y))]
        islands.append(("、".join(names) or "海岛", shape))
    return mainland, islands


def _leaflet_bounds(geometry: Any) -> list[list[float]]:
    minx, miny, maxx, maxy = geometry.bounds
    return [[round(miny, 5), round(minx, 5)], [round(maxy, 5), round(maxx, 5)]]


def island_note(district: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The features to open the map on (the mainland) and a note with buttons that jump to each island group."""
    import json

    mainland, islands = split_islands(district)
    focus = [{"type": "Feature", "geometry": shapely.geometry.mapping(mainland), "properties": {}}]
    if not islands:
        return focus, ""
    buttons = "".join(
        f'<button type="button" class="gs-jump" data-bounds="{html.escape(json.dumps(_leaflet_bounds(shape)))}">'
        f"查看{html.escape(name)}</button>"
        for name, shape in islands
    )
    back = (
        f'<button type="button" class="gs-jump" data-bounds="{html.escape(json.dumps(_leaflet_bounds(mainland)))}">'
        "返回陆地部分</button>"
    )
    names = "、".join(name for name, _ in islands)
    note = f"<div class='gs-islands'>本区另有海岛：{html.escape(names)}（地图以陆地部分为主）<br>{buttons}{back}</div>"
    return focus, note


#: the overview's choropleths: property, layer name (radio button), unit, decimals
OVERVIEW_LAYERS = (
    ("hotspots_per_10k", "每万名学生溺水隐患点", "处/万名学生", 2),
    ("overdue_premises", "超期未查场所", "处", 0),
)


def overview_classes(values: list[float], decimals: int) -> list[tuple[float, float]]:
    """Equal-interval classes (low, high] from 0 to the largest value, one per shade; one class when all are 0.

    >>> overview_classes([0.0, 1.3, 4.0, 2.2], 2)
    [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
    >>> overview_classes([0, 0], 0)
    [(0.0, 0.0)]
    """
    top = max(values, default=0)
    if top <= 0:
        return [(0.0, 0.0)]
    count = len(styles.OVERVIEW_SHADES)
    step = round(top / count, decimals)
    if step * count < top:
        step = round(step + 10**-decimals, decimals)
    step = max(step, 10**-decimals)
    return [(round(i * step, decimals), round((i + 1) * step, decimals)) for i in range(count)]


def _overview_shade(value: float, classes: list[tuple[float, float]]) -> int:
    return next((i for i, (_, high) in enumerate(classes) if value <= high), len(classes) - 1)


def base_map(
    districts: list[dict[str, Any]], basemap: Basemap | None, focus: list[dict[str, Any]] | None = None
) -> folium.Map:
    """Boundary (and basemap) of the districts; opens on ``focus`` features when given, else the districts."""
    fmap = folium.Map(tiles=None, prefer_canvas=False, zoom_start=12, location=[21.5, 109.2])
    fmap.add_child(MetricScale())
    if basemap is not None:
        folium.TileLayer(
            tiles=basemap.url,
            attr=basemap.attribution,
            name=basemap.name,
            subdomains=basemap.subdomains or "abc",
            max_zoom=19,
            control=False,  # the only basemap: nothing to switch (the overview's radio buttons are its layers)
        ).add_to(fmap)
    if districts:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": districts},
            name="行政区界",
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


def ring_layer(rings: dict[float, list[dict[str, Any]]]) -> Layer:
    """The schools' rule rings (one dissolved shape per distance, widest first), cut to the view when sent:
    drawn from zoom ``DETAIL_MIN_ZOOM`` on, where 50 m is more than a few pixels."""
    features = []
    for distance, found in sorted(rings.items(), reverse=True):
        colour = styles.buffer_colour(distance)
        for feature in found:
            names = feature["properties"].get("schools")
            features.append(
                area(
                    feature["geometry"],
                    {
                        "label": f"{distance:.0f} 米范围 · 学校：{names or ''}",
                        "_fill": colour,
                        "_edge": colour,
                        "distance": distance,
                    },
                )
            )

    def symbols(sent: list[dict[str, Any]]) -> list[Symbol]:
        drawn = sorted({f["properties"]["distance"] for f in sent})
        return [Symbol("area", styles.buffer_colour(d), styles.buffer_colour(d), f"学校 {d:.0f} 米范围") for d in drawn]

    return Layer(
        "rings",
        "学校周边规定距离范围",
        "areas",
        features,
        style={"weight": 1, "fillOpacity": 0.06, "className": "gs-buffer"},
        label="label",
        symbols=symbols,
        min_zoom=DETAIL_MIN_ZOOM,
        clip=True,
        hidden_note=f"放大到 {DETAIL_MIN_ZOOM} 级以上显示学校周边规定距离范围。" if features else "",
    )


def school_gate_layer(schools: list[dict[str, Any]]) -> Layer:
    compact = [
        point(
            f["geometry"]["coordinates"][0],
            f["geometry"]["coordinates"][1],
            {
                "name": f["properties"]["name"],
                "kind_cn": styles.SCHOOL_KIND_CN.get(f["properties"].get("kind", ""), f["properties"].get("kind")),
                "students": f["properties"].get("students"),
                "id": f["properties"]["id"],
            },
        )
        for f in schools
    ]
    gate = Symbol("dot", styles.SCHOOL_COLOUR, "#ffffff", "学校校门")
    return Layer(
        "schools",
        "学校",
        "points",
        compact,
        style={
            "radius": 5,
            "color": "#ffffff",
            "weight": 1,
            "fill": True,
            "fillColor": styles.SCHOOL_COLOUR,
            "fillOpacity": 1,
            "className": "gs-school-gate",
        },
        popup=(["name", "kind_cn", "students", "id"], ["学校", "类型", "学生数", "编号"]),
        symbols=lambda sent: [gate],
    )


def today_layers(data: TodayMapData) -> list[Layer]:
    """The data layers of the day's map under its numbered stops: rings, school gates, the rest due."""
    return [
        ring_layer(data.rings),
        school_gate_layer(data.schools),
        premise_layer(data.other_due, "other_due", "其他待查场所", "gs-other-due"),
    ]


def today_view(data: TodayMapData, bbox: Any = None, zoom: int | None = None) -> dict[str, Any]:
    return view_of(today_layers(data), bbox=bbox, zoom=zoom, fixed=[DISTRICT_LINE])


def _point(stop: Stop) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [stop.lon, stop.lat]}


def _route_lines(plan: DayPlan) -> list[list[list[float]]]:
    return [line for line in plan.route.coordinates if len(line) > 1]


def add_plan(fmap: folium.Map, plan: DayPlan) -> None:
    stops = folium.FeatureGroup(name="今日巡查路线", show=True)
    lines = _route_lines(plan)
    if lines:  # one line per land part: never a leg across the sea
        folium.PolyLine(
            [[[y, x] for x, y in line] for line in lines],
            color=styles.ROUTE_COLOUR,
            weight=4,
            opacity=0.8,
            dash_array="8 6",
            class_name="gs-route",
        ).add_to(stops)
    stops.add_child(
        Stops(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": _point(stop), "properties": stop_properties(stop)}
                    for stop in plan.stops
                ],
            },
            *_fields(_STOP_FIELDS),
        )
    )
    stops.add_to(fmap)


def today_map(
    data: TodayMapData,
    basemap: Basemap | None = None,
    *,
    inline_assets: bool = False,
    source: str | dict[str, Any] | None = None,
) -> folium.Map:
    """The day's map: boundary, the plan's numbered stops and route, the summary; rings, school gates and
    the rest due are data layers from ``source`` (the app's view endpoint; None: embedded, for a file)."""
    # a phone screen opens on the day's stops of the land part still to be worked, not the whole district
    plan = data.plan
    stops = plan.stops
    first = next((s for s in stops if s.status != "done"), stops[0] if stops else None)
    focus = [{"geometry": _point(s)} for s in stops if first is not None and s.group == first.group]
    fmap = base_map(data.districts, basemap, focus=focus or None)
    add_plan(fmap, plan)
    symbols = [
        Symbol("stop", styles.REASON_COLOUR[r], styles.DUE_EDGE, f"今日检查点（数字=顺序）· {styles.REASON_CN[r]}")
        for r in styles.REASON_COLOUR
        if any(s.reason == r and s.status != "done" for s in stops)
    ]
    results = {s.visit.result for s in stops if s.status == "done" and s.visit is not None}
    for result, label in (("pass", "今日合格（✓）"), ("fail", "今日不合格（✗）"), ("closed", "今日已关闭/未找到")):
        if result in results or (result == "closed" and "not_found" in results):
            symbols.append(Symbol("stop", styles.RESULT_COLOUR[result], styles.DUE_EDGE, label))
    if any(s.violation for s in stops):
        symbols.append(Symbol("stop", "#7f8c8d", styles.VIOLATION_COLOUR, "今日检查点 · 违规（紫色粗边）"))
    if _route_lines(plan):
        symbols.append(Symbol("line", None, styles.ROUTE_COLOUR, "建议路线（海岛单独规划）"))
    fmap.add_child(DataLayers(today_view(data) if source is None else source, {"legend": [asdict(x) for x in symbols]}))
    length_km = plan.route_length_m / 1000
    summary = (
        f"<h4>{html.escape(data.title)}</h4><div>日期：{html.escape(data.day)}</div>"
        f"<div>今日计划：<b class='gs-plan-count'>{len(stops)}</b> 处，已完成 {plan.done} 处，"
        f"路线 {length_km:.1f} 公里</div>"
        + (f"<div class='gs-plan-notice'>{html.escape(plan.notice)}</div>" if plan.notice else "")
        + f"<div>辖区待查合计：<b class='gs-total-due'>{data.total_due}</b> 处（含今日计划）</div>"
    )
    shown = len(stops) + len(data.other_due) if data.shown is None else data.shown
    if shown < data.total_due:
        summary += f"<div>地图显示优先级最高的 {shown} 处</div>"
    return _finish(fmap, summary, inline_assets, [MAP_DATA])


def hazard_editor_map(
    zones: list[dict[str, Any]],
    districts: list[dict[str, Any]],
    basemap: Basemap | None,
    *,
    can_edit: bool,
    day: str,
) -> folium.Map:
    """The planners' zone editor: a side panel (list, form, history) beside the map of zones, green when
    guarded on ``day``, red when not; Leaflet-Geoman draws and edits shapes (``hazard_editor.js``)."""
    fmap = base_map(districts, basemap)
    unguarded = sum(1 for z in zones if not z["properties"]["guarded"])
    root = fmap.get_root()
    assert isinstance(root, Figure)  # a folium.Map is created inside a Figure
    root.html.add_child(Element(hazard_sidebar(day, len(zones), unguarded, can_edit)), name="gs_hazard_sidebar")
    rows = [
        ("dot", "#27ae60", "已落实防护"),
        ("dot", "#e74c3c", "未落实防护（缺措施、责任人或巡查）"),
        ("line", "#1f5fbf", "选中的水域"),
    ]
    fmap.add_child(HtmlControl(legend_html("图例", rows), position="bottomright"))
    fmap.add_child(LocateControl())
    district_names = [{"code": d["properties"]["code"], "name": d["properties"]["name"]} for d in districts]
    fmap.add_child(HazardEditor(zones, can_edit, district_names, day))
    attach_assets(fmap, [*GEOMAN, *HAZARD_EDITOR])
    return fmap


def risk_breaks(scores: list[float], classes: int = len(styles.RISK_CLASSES)) -> list[float]:
    """Upper bounds of equal-count risk classes (quantiles of the map's own scores): 低, 中, 高.

    >>> risk_breaks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    [4.0, 7.0, 10.0]
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
    return styles.RISK_COLOURS[risk_class(score, breaks)]


def hotspots_map(
    hotspots: HotspotCollection,
    rings: list[dict[str, Any]],
    districts: list[dict[str, Any]],
    basemap: Basemap | None,
    title: str,
    *,
    inline_assets: bool = False,
) -> folium.Map:
    """Drowning hotspots coloured by risk, the schools they threaten with their radius rings, whom to call."""
    features = hotspots.features
    focus = [{"geometry": _geojson(f.geometry)} for f in features]
    fmap = base_map(districts, basemap, focus=focus or None)
    radius = hotspots.radius_m
    ring = Symbol("ring", None, styles.SCHOOL_COLOUR, f"学校周边 {radius:.0f} 米范围")
    ring_layer = Layer(
        "school_rings",
        f"学校 {radius:.0f} 米范围",
        "areas",
        [
            area(r["geometry"], {"label": f"学校 {r['properties']['name']} · 学生 {r['properties']['students']}"})
            for r in rings
        ],
        style={
            "color": styles.SCHOOL_COLOUR,
            "weight": 1,
            "fill": False,
            "dashArray": "4 4",
            "className": "gs-school-ring",
        },
        label="label",
        symbols=lambda sent: [ring],
    )
    _, note = hotspot_symbols([f.properties.risk_score for f in features])
    # the hotspots above the rings; the legend lists hotspot classes first, as before
    layers = [ring_layer, *hotspot_layers(features)]
    view = view_of(layers, fixed=[DISTRICT_LINE], note=note)
    order = {"dot": 0, "ring": 1, "dashed": 2}
    view["legend"].sort(key=lambda row: order.get(row["shape"], 1))
    fmap.add_child(DataLayers(view))
    key = hotspots.key_period
    summary = (
        f"<h4>{html.escape(title)}</h4><div>日期：{html.escape(hotspots.date)}"
        f"{'（重点时段：' + html.escape(key) + '）' if key else ''}</div>"
        f"<div>隐患点：<b class='gs-hotspot-count'>{hotspots.numberMatched}</b></div>" + _calendar_notice(hotspots)
    )
    return _finish(fmap, summary, inline_assets, [MAP_DATA])


def _calendar_notice(hotspots: HotspotCollection) -> str:
    """Key periods of a year without the official notice are computed: the map says so (issue 20)."""
    notice = hotspots.calendar_notice
    return f"<div class='gs-provisional'>{html.escape(notice)}</div>" if notice else ""


@dataclass
class DistrictMapData:
    """One district's picture on a date in WGS84, plus the summary counts; read only."""

    day: str
    district: dict[str, Any]  # the boundary Feature (properties code, name)
    hotspots: HotspotCollection  # from the hotspot query
    premises: list[DueFeature]  # in-scope premises (due or with violations), from the due query
    schools: list[dict[str, Any]]  # gate Features with the four security flags
    summary: dict[str, Any]


SECURITY_CN = {
    "full_time_guards": "专职保安",
    "closed_campus": "封闭管理",
    "alarm_linked": "一键报警",
    "video_linked": "视频联网",
}


def district_title(data: DistrictMapData) -> str:
    return f"{data.district['properties']['name']} 校园安全隐患图"


def summary_json(summary: dict[str, Any]) -> dict[str, Any]:
    """A district's counts as the panel draws them (``mapdata.js``), missing measures labelled in Chinese."""
    return {
        **{k: v for k, v in summary.items() if k != "unguarded_by_missing"},
        "unguarded_by_missing": [
            {"item": k, "label": styles.MISSING_CN.get(k, k), "count": v}
            for k, v in sorted(summary["unguarded_by_missing"].items())
        ],
    }


def _geojson(geometry: Polygon | MultiPolygon) -> dict[str, Any]:
    """A model's geometry as the GeoJSON dict shapely and the page read (the coordinates shared, not copied)."""
    return {"type": geometry.type, "coordinates": geometry.coordinates}


def heat_layer(features: Sequence[HotspotFeature]) -> Layer:
    """The hotspots' heat: a point on each zone weighted by its risk over the map's highest risk."""
    top = max((f.properties.risk_score for f in features), default=0.0) or 1.0
    heat = []
    for feature in features:
        spot = shapely.point_on_surface(shapely.geometry.shape(_geojson(feature.geometry)))
        heat.append(point(spot.x, spot.y, {"w": round(feature.properties.risk_score / top, 4)}))
    ramp = Symbol("heat", " ".join(styles.HEAT_GRADIENT.values()), None, "风险热力（按风险分加权，低→高）")
    return Layer(
        "heat",
        "风险热力",
        "heat",
        heat,
        style={
            "radius": 30,
            "blur": 20,
            "minOpacity": 0.3,
            "gradient": {str(k): v for k, v in styles.HEAT_GRADIENT.items()},
        },
        symbols=lambda sent: [ramp],
    )


def school_compliance_layer(schools: list[dict[str, Any]]) -> Layer:
    """Schools coloured by how many of the four security items they lack (most lacking first)."""
    compact = []
    for feature in schools:
        props = feature["properties"]
        lacking = [SECURITY_CN[k] for k in SECURITY_CN if not props[k]]
        colour = styles.SCHOOL_COMPLIANCE[min(len(lacking), 2)][1]
        lon, lat = feature["geometry"]["coordinates"]
        compact.append(
            (
                -len(lacking),
                point(
                    lon,
                    lat,
                    {
                        "name": f"{props['name']}（{props['students']} 人）",
                        "security": "四项达标" if not lacking else "缺：" + "、".join(lacking),
                        "_fill": colour,
                    },
                ),
            )
        )
    compact.sort(key=lambda pair: pair[0])

    def symbols(sent: list[dict[str, Any]]) -> list[Symbol]:
        drawn = {f["properties"]["_fill"] for f in sent}
        return [
            Symbol("dot", colour, "#ffffff", f"学校 · {label}")
            for label, colour in styles.SCHOOL_COMPLIANCE
            if colour in drawn
        ]

    return Layer(
        "schools",
        "学校（安防达标情况）",
        "points",
        [f for _, f in compact],
        style={
            "radius": 6,
            "color": "#ffffff",
            "weight": 2,
            "fill": True,
            "fillOpacity": 1,
            "className": "gs-school-marker",
        },
        popup=(["name", "security"], ["学校", "安防"]),
        symbols=symbols,
    )


def district_layers(data: DistrictMapData) -> tuple[list[Layer], str]:
    """The data layers of a district map, most important first within each, and the legend's note."""
    hotspot_features = data.hotspots.features
    layers = [heat_layer(hotspot_features)] if hotspot_features else []
    layers += hotspot_layers(hotspot_features)
    shown = [f for f in data.premises if f.properties.reason is not None or f.properties.violation]
    layers.append(
        premise_layer([f for f in shown if f.properties.violation], "violations", "违规场所", "gs-violation-marker")
    )
    layers.append(premise_layer([f for f in shown if not f.properties.violation], "due", "待查场所", "gs-due-marker"))
    layers.append(school_compliance_layer(data.schools))
    _, note = hotspot_symbols([f.properties.risk_score for f in hotspot_features])
    return layers, note


def district_view(data: DistrictMapData, bbox: Any = None, zoom: int | None = None) -> dict[str, Any]:
    """What a district map draws for one view (``bbox`` None: the whole district, as a file embeds it)."""
    layers, note = district_layers(data)
    return view_of(layers, bbox=bbox, zoom=zoom, fixed=[DISTRICT_LINE], note=note)


def district_shell(
    district: dict[str, Any],
    day: str,
    notice: str | None,
    basemap: Basemap | None,
    *,
    source: str | dict[str, Any],
    summary: str | dict[str, Any],
    inline_assets: bool = False,
) -> folium.Map:
    """A district map without its data: boundary, panel and controls; ``mapdata.js`` draws hotspots (polygons,
    markers and a heat layer by risk), premises and schools by compliance from ``source`` (the app's view
    endpoint, or the data itself in a file), and the panel's counts from ``summary``.

    Opens on the mainland; islands far offshore (海城区's 涠洲岛 and 斜阳岛) are a button away."""
    focus, islands = island_note(district)
    fmap = base_map([district], basemap, focus=focus)
    title = f"{district['properties']['name']} 校园安全隐患图"
    panel = (
        f"<h4>{html.escape(title)}</h4><div>日期：{html.escape(day)}</div>"
        "<div class='gs-summary-slot'>统计加载中…</div>"
        + (f"<div class='gs-provisional'>{html.escape(notice)}</div>" if notice else "")
        + islands
    )
    if not inline_assets:  # served pages link their printable files; a written file stands alone
        code, quoted_day = quote(str(district["properties"]["code"])), quote(day)
        panel += (
            f"<div class='gs-downloads'>打印版：<a href='/maps/districts/{code}/print.png?date={quoted_day}'>"
            f"PNG 图片</a> · <a href='/maps/districts/{code}/print.pdf?date={quoted_day}'>PDF</a></div>"
        )
    fmap.add_child(HtmlControl(panel, position="topright", css_class="gs-panel"))
    fmap.add_child(DataLayers(source, {"summary": summary}))
    attach_assets(fmap, [HEAT, MAP_DATA], inline=inline_assets)
    return fmap


def district_map(data: DistrictMapData, basemap: Basemap | None, *, inline_assets: bool = False) -> folium.Map:
    """A district's map with all its data embedded (the file ``geo-safety map districts`` writes)."""
    return district_shell(
        data.district,
        data.day,
        data.hotspots.calendar_notice,
        basemap,
        source=district_view(data),
        summary=summary_json(data.summary),
        inline_assets=inline_assets,
    )


_HOTSPOT_FIELDS = (
    ("zone", "水域"),
    ("class_cn", "风险等级"),
    ("missing_cn", "缺少"),
    ("risk", "风险分"),
    ("schools", "附近学校"),
    ("nearest", "最近学校"),
    ("unit", "责任单位"),
    ("person", "责任人"),
    ("phone_no", "电话"),
    ("hazard_id", "编号"),
)


def hotspot_layers(features: Sequence[HotspotFeature]) -> list[Layer]:
    """Hotspot shapes (from zoom ``DETAIL_MIN_ZOOM``, where a pond is more than a speck) and, at their centres,
    markers sized by risk class; classes are the terciles of all the map's hotspots, highest risk first."""
    scores = [f.properties.risk_score for f in features]
    breaks = risk_breaks(scores)
    shapes, markers = [], []
    for feature in sorted(features, key=lambda f: -f.properties.risk_score):
        props = feature.properties
        index = risk_class(props.risk_score, breaks)
        shown = {
            "zone": f"{props.name}（{styles.HAZARD_KIND_CN.get(props.kind, props.kind)}）",
            "class_cn": styles.RISK_CLASSES[index][0],
            "missing_cn": "、".join(styles.MISSING_CN.get(m, m) for m in props.missing),
            "risk": f"{props.risk_score:.1f}",
            "schools": f"{props.schools_within} 所，学生 {props.students_within} 人",
            "nearest": (
                f"{props.nearest_school_name}（{props.distance_m:.0f} 米）"
                if props.nearest_school_name
                else f"其他区县学校 {props.schools_in_other_districts} 所"
            ),
            "unit": props.responsible_unit or "—",
            "person": props.responsible_person or "未明确",
            "phone_no": props.phone or "—",
            "hazard_id": props.hazard_id,
            "score": props.risk_score,
            "_fill": styles.RISK_COLOURS[index],
            "_radius": 5 + 3 * index,
        }
        geometry = _geojson(feature.geometry)
        shapes.append(area(geometry, shown))
        spot = shapely.point_on_surface(shapely.geometry.shape(geometry))
        markers.append(point(spot.x, spot.y, shown))

    def symbols(sent: list[dict[str, Any]]) -> list[Symbol]:
        rows, _ = hotspot_symbols([f["properties"]["score"] for f in sent], breaks)
        return rows

    popup = _fields(_HOTSPOT_FIELDS)
    return [
        Layer(
            "hotspot_areas",
            "溺水隐患水域范围",
            "areas",
            shapes,
            style={"color": styles.HOTSPOT_EDGE, "weight": 1, "fillOpacity": 0.8, "className": "gs-hotspot"},
            popup=popup,
            label="zone",
            min_zoom=DETAIL_MIN_ZOOM,
        ),
        Layer(
            "hotspots",
            "溺水隐患点",
            "points",
            markers,
            style={
                "color": styles.HOTSPOT_EDGE,
                "weight": 1,
                "fill": True,
                "fillOpacity": 0.9,
                "className": "gs-hotspot-marker",
            },
            popup=popup,
            symbols=symbols,
        ),
    ]


_OVERVIEW_FIELDS = (
    ("name", "区县"),
    ("students", "学生数"),
    ("hotspots", "溺水隐患点"),
    ("per_10k", "每万名学生隐患点"),
    ("overdue", "超期未查场所"),
    ("violations", "违规场所"),
)


OVERVIEW_TITLE = "全市概览"


def overview_map(
    districts: list[dict[str, Any]], day: str, basemap: Basemap | None, *, inline_assets: bool = False
) -> folium.Map:
    """The city: districts shaded by unguarded hotspots per 10,000 students, or by overdue premises — one
    choropleth at a time (radio buttons), each with its own legend of numbered classes."""
    fmap = base_map(districts, basemap)
    legends = []
    for order, (key, label, unit, decimals) in enumerate(OVERVIEW_LAYERS):
        values = [float(d["properties"][key]) for d in districts]
        classes = overview_classes(values, decimals)
        layer = folium.FeatureGroup(name=label, overlay=False, show=order == 0)
        for feature in districts:
            props = feature["properties"]
            shade = styles.OVERVIEW_SHADES[_overview_shade(float(props[key]), classes)]
            shown = {
                "name": props["name"],
                "label": f"{props['name']}：{float(props[key]):.{decimals}f} {unit}",
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
            ).add_child(TablePopup(*_fields(_OVERVIEW_FIELDS))).add_child(Label("label")).add_to(layer)
        layer.add_to(fmap)
        members: dict[int, list[str]] = {}
        for feature, value in zip(districts, values, strict=True):
            members.setdefault(_overview_shade(value, classes), []).append(feature["properties"]["name"])
        symbols = [
            Symbol(
                "area",
                styles.OVERVIEW_SHADES[i],
                "#34495e",
                (f"{low:.{decimals}f}" if i == 0 and low == high else f"{low:.{decimals}f}–{high:.{decimals}f}")
                + f" {unit}："
                + ("、".join(members[i]) if i in members else "本图无"),
            )
            for i, (low, high) in enumerate(classes)
        ]
        note = "按等间距分级（0 至最大值）；每次只显示一个图层，可在右上角切换。"
        legends.append(legend(f"图例：{label}", symbols, note, layer=label))
    fmap.add_child(HtmlControl("".join(legends), css_class="gs-legend gs-switching"))
    links = "".join(
        f"<li><a href='/maps/districts/{quote(str(d['properties']['code']))}?date={quote(day)}'>"
        f"{html.escape(d['properties']['name'])}</a></li>"
        for d in districts
    )
    fmap.add_child(
        HtmlControl(
            f"<h4>{OVERVIEW_TITLE}</h4><div>日期：{html.escape(day)}</div><ul>{links}</ul>",
            position="topright",
            css_class="gs-panel",
        )
    )
    folium.LayerControl(collapsed=False).add_to(fmap)
    attach_assets(fmap, inline=inline_assets)
    return fmap


def items_map(title: str, features: list[dict[str, Any]], counts: str, pages: list[tuple[str, str]]) -> folium.Map:
    """A page of an OGC API collection as a small map, with links to the previous and next page."""
    fmap = folium.Map(tiles=None, location=[21.6, 109.3], zoom_start=9)
    fmap.add_child(MetricScale())
    if features:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=title,
            marker=folium.CircleMarker(radius=4, color="#1f5fbf", fill=True),
        )
        keys = list(dict.fromkeys(k for f in features for k in (f.get("properties") or {})))
        layer.add_child(TablePopup(keys, keys)).add_child(Label("name"))
        layer.add_to(fmap)
        # folium types get_bounds as Optional floats (an empty layer); fit_bounds takes the same value back
        fmap.fit_bounds(layer.get_bounds())  # type: ignore[arg-type]
    nav = "".join(f"<a href='{html.escape(href)}'>{html.escape(label)}</a><br>" for label, href in pages)
    panel = f"<h4>{html.escape(title)}</h4><div>{html.escape(counts)}</div>{nav}"
    fmap.add_child(HtmlControl(panel, position="topright", css_class="gs-panel"))
    attach_assets(fmap)
    return fmap


def render_html(fmap: folium.Map, title: str, basemap: Basemap | None = None) -> RenderedPage:
    """The page of a map, with the CSP that allows exactly its own inline blocks (see ``maps.page``)."""
    return render_page(fmap, title, image_sources(basemap))

"""A QGIS project (``.qgz``) with every OGC API collection of the service as an OAPIF layer, styled and grouped
like the web maps (colours from ``maps.styles``, Chinese names and labels).

The project XML is written here with ``xml.etree`` (every value escaped by it), so no QGIS is needed to make one.
Each layer names the authentication configuration ``authcfg`` (default :data:`AUTHCFG`): the planner creates a
Basic configuration (user name + API token) with that id in QGIS, or passes the id of one they have.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from geo_safety.maps import styles
from geo_safety.services.ogc import COLLECTIONS

#: The authentication configuration every layer names; QGIS ids are 7 letters or digits.
AUTHCFG = "gsafety"
QGIS_VERSION = "3.22.16-Białowieża"
LABEL_FONT = "Noto Sans CJK SC"
#: Beihai (the bundled boundaries) in CRS84, for a project written without the database at hand.
DEFAULT_EXTENT = (108.85, 20.85, 109.80, 21.95)
#: Upper bounds of the hotspot risk classes (低, 中, 高) when none come from the day's data (the web maps use the
#: terciles of their own scores).
DEFAULT_RISK_BREAKS = (100.0, 300.0, 1e9)
#: The last class's upper bound: higher scores than the day's highest still fall in it.
OPEN_END = 1e9
MEASURES = ("warning_sign", "lifebuoy", "rescue_rope", "rescue_pole", "fence")

_WGS84 = {
    "wkt": "",
    "proj4": "+proj=longlat +datum=WGS84 +no_defs",
    "srsid": "3452",
    "srid": "4326",
    "authid": "EPSG:4326",
    "description": "WGS 84",
    "projectionacronym": "longlat",
    "ellipsoidacronym": "EPSG:7030",
    "geographicflag": "true",
}


@dataclass(frozen=True)
class SymbolLayer:
    """One QGIS symbol layer: its class (``SimpleMarker``, ``SimpleFill``…), properties and data-defined ones."""

    cls: str
    props: dict[str, str]
    data_defined: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Symbol:
    kind: str  # marker, fill, line
    layers: tuple[SymbolLayer, ...]


@dataclass(frozen=True)
class Class:
    """A legend entry: a category value, a range ``(lower, upper)`` or a rule filter, its symbol and label."""

    label: str
    symbol: Symbol
    value: str | None = None
    bounds: tuple[float, float] | None = None
    rule: str | None = None


@dataclass(frozen=True)
class LayerSpec:
    collection: str
    name: str
    geometry: str  # Point, Polygon
    symbol: Symbol | None = None  # single symbol …
    attribute: str | None = None  # … or classes on this attribute (categorized / graduated) …
    classes: tuple[Class, ...] = ()  # … or rules (neither symbol nor attribute)
    label_field: str | None = None
    label_max_scale: float = 0  # labels only when zoomed in beyond 1:N (0: always)
    visible: bool = True


def _rgba(colour: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` as QGIS writes colours: ``r,g,b,a``.

    >>> _rgba("#34495e", 0.35)
    '52,73,94,89'
    """
    value = colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{red},{green},{blue},{round(alpha * 255)}"


def _px(pixels: float) -> str:
    """Leaflet's screen pixels (96 dpi) in the millimetres QGIS symbols use."""
    return f"{pixels * 25.4 / 96:.2f}"


def circle(fill: str, radius_px: float, edge: str = "#ffffff", edge_px: float = 1, edge_expression: str = "") -> Symbol:
    """A Leaflet ``CircleMarker``: radius and stroke in pixels."""
    props = {
        "name": "circle",
        "color": _rgba(fill),
        "outline_color": _rgba(edge),
        "outline_width": _px(edge_px),
        "outline_width_unit": "MM",
        "size": _px(2 * radius_px),
        "size_unit": "MM",
    }
    data_defined = {"outlineColor": edge_expression} if edge_expression else {}
    return Symbol("marker", (SymbolLayer("SimpleMarker", props, data_defined),))


def area(fill: str | None, edge: str, edge_px: float, fill_alpha: float = 1.0, dash: str = "") -> Symbol:
    """A Leaflet path style: stroke colour and weight, fill colour and opacity, dash array (pixels)."""
    props = {
        "color": _rgba(fill, fill_alpha) if fill else "0,0,0,0",
        "style": "solid" if fill else "no",
        "outline_color": _rgba(edge),
        "outline_width": _px(edge_px),
        "outline_width_unit": "MM",
        "outline_style": "dash" if dash else "solid",
    }
    layers = [SymbolLayer("SimpleFill", props)]
    if dash:  # a custom dash needs a line on the outline
        dashes = ";".join(_px(float(part)) for part in dash.split())
        line = {
            "line_color": _rgba(edge),
            "line_width": _px(edge_px),
            "line_width_unit": "MM",
            "use_custom_dash": "1",
            "customdash": dashes,
            "customdash_unit": "MM",
        }
        props["outline_style"] = "no"
        layers.append(SymbolLayer("SimpleLine", line))
    return Symbol("fill", tuple(layers))


def _title(collection: str) -> str:
    return COLLECTIONS[collection].title


def layer_specs(risk_breaks: tuple[float, ...] = DEFAULT_RISK_BREAKS) -> list[tuple[str, list[LayerSpec]]]:
    """The groups of the web maps, top to bottom, with their layers (drawn top first)."""
    violation_edge = f"if(\"violation\", '{styles.VIOLATION_COLOUR}', '{styles.DUE_EDGE}')"
    due = LayerSpec(
        "due_inspections",
        _title("due_inspections"),
        "Point",
        attribute="reason",
        classes=tuple(
            Class(styles.REASON_CN[reason], circle(colour, 5, styles.DUE_EDGE, 2, violation_edge), value=reason)
            for reason, colour in styles.REASON_COLOUR.items()
        ),
        label_field="name",
        label_max_scale=10_000,
    )
    premises = LayerSpec(
        "premises",
        _title("premises"),
        "Point",
        attribute="category",
        classes=tuple(
            Class(label, circle(styles.NO_REASON_COLOUR, 3), value=key) for key, label in styles.CATEGORY_CN.items()
        ),
        label_field="name",
        label_max_scale=5_000,
        visible=False,
    )
    if len(risk_breaks) != len(styles.RISK_CLASSES):
        raise ValueError(f"{len(styles.RISK_CLASSES)} risk breaks are needed, not {len(risk_breaks)}")
    lower = (0.0, *risk_breaks[:-1])
    hotspots = LayerSpec(
        "drowning_hotspots",
        _title("drowning_hotspots"),
        "Polygon",
        attribute="risk_score",
        classes=tuple(
            Class(
                f"{name}风险 {low:.0f}–{high:.0f}" if high < OPEN_END else f"{name}风险 {low:.0f} 以上",
                area(colour, styles.HOTSPOT_EDGE, 1, 0.8),
                bounds=(low, high),
            )
            for (name, colour), low, high in zip(styles.RISK_CLASSES, lower, risk_breaks, strict=True)
        ),
        label_field="name",
    )
    in_place = " AND ".join(f'"{m}"' for m in MEASURES) + ' AND "responsible_person" IS NOT NULL'
    zones = LayerSpec(
        "water_hazards",
        _title("water_hazards"),
        "Polygon",
        classes=(
            Class("防护设施齐全 measures in place", area("#27ae60", "#1e8449", 2, 0.35), rule=in_place),
            Class("缺防护设施或责任人 measures missing", area("#e74c3c", "#c0392b", 2, 0.35), rule="ELSE"),
        ),
        label_field="name",
        label_max_scale=25_000,
    )
    schools = LayerSpec(
        "schools",
        _title("schools"),
        "Point",
        symbol=circle(styles.SCHOOL_COLOUR, 5),
        label_field="name",
        label_max_scale=50_000,
    )
    district = styles.DISTRICT_STYLE
    districts = LayerSpec(
        "districts",
        _title("districts"),
        "Polygon",
        symbol=area(None, str(district["color"]), float(district["weight"]), dash=str(district["dashArray"])),
        label_field="name",
    )
    return [
        ("今日巡查 Inspection", [due, schools]),
        ("溺水隐患与危险水域 Water safety", [hotspots, zones]),
        ("校园周边场所 Premises", [premises]),
        ("行政区界 District boundary", [districts]),
    ]


# -- XML ----------------------------------------------------------------------------------------------------
def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _option_map(parent: ET.Element, values: dict[str, str], name: str | None = None) -> ET.Element:
    attrs = {"type": "Map"} | ({"name": name} if name else {})
    element = _sub(parent, "Option", **attrs)
    for key, value in values.items():
        _sub(element, "Option", type="QString", name=key, value=value)
    return element


def _data_defined(parent: ET.Element, expressions: dict[str, str]) -> None:
    holder = _sub(_sub(parent, "data_defined_properties"), "Option", type="Map")
    _sub(holder, "Option", type="QString", name="name", value="")
    properties = _sub(holder, "Option", name="properties", **({"type": "Map"} if expressions else {}))
    for key, expression in expressions.items():
        prop = _sub(properties, "Option", type="Map", name=key)
        _sub(prop, "Option", type="bool", name="active", value="true")
        _sub(prop, "Option", type="QString", name="expression", value=expression)
        _sub(prop, "Option", type="int", name="type", value="3")
    _sub(holder, "Option", type="QString", name="type", value="collection")


def _symbol(parent: ET.Element, name: str, symbol: Symbol) -> None:
    element = _sub(parent, "symbol", type=symbol.kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    _data_defined(element, {})
    for layer in symbol.layers:
        item = _sub(element, "layer", **{"class": layer.cls, "enabled": "1", "locked": "0", "pass": "0"})
        _option_map(item, layer.props)
        for key, value in layer.props.items():  # QGIS before 3.26 also reads these
            _sub(item, "prop", k=key, v=value)
        _data_defined(item, layer.data_defined)


def _renderer(parent: ET.Element, spec: LayerSpec) -> None:
    common = {"symbollevels": "0", "forceraster": "0", "enableorderby": "0", "referencescale": "-1"}
    if spec.symbol is not None:
        renderer = _sub(parent, "renderer-v2", type="singleSymbol", **common)
        _symbol(_sub(renderer, "symbols"), "0", spec.symbol)
        return
    if spec.attribute is None:
        renderer = _sub(parent, "renderer-v2", type="RuleRenderer", **common)
        rules = _sub(renderer, "rules", key="{root}")
        for n, item in enumerate(spec.classes):
            rule = item.rule or "ELSE"  # ELSE: the features no other rule takes
            _sub(rules, "rule", key=f"{{rule-{n}}}", symbol=str(n), label=item.label, filter=rule)
    elif spec.classes[0].bounds is not None:
        renderer = _sub(
            parent,
            "renderer-v2",
            type="graduatedSymbol",
            attr=spec.attribute,
            graduatedMethod="GraduatedColor",
            **common,
        )
        ranges = _sub(renderer, "ranges")
        for n, item in enumerate(spec.classes):
            low, high = item.bounds or (0.0, 0.0)
            _sub(
                ranges, "range", symbol=str(n), lower=f"{low:.6f}", upper=f"{high:.6f}", label=item.label, render="true"
            )
    else:
        renderer = _sub(parent, "renderer-v2", type="categorizedSymbol", attr=spec.attribute, **common)
        categories = _sub(renderer, "categories")
        for n, item in enumerate(spec.classes):
            _sub(categories, "category", symbol=str(n), value=item.value or "", label=item.label, render="true")
    symbols = _sub(renderer, "symbols")
    for n, item in enumerate(spec.classes):
        _symbol(symbols, str(n), item.symbol)


def _labeling(parent: ET.Element, spec: LayerSpec) -> None:
    settings = _sub(_sub(parent, "labeling", type="simple"), "settings", calloutType="simple")
    style = _sub(
        settings,
        "text-style",
        fieldName=spec.label_field or "",
        isExpression="0",
        fontFamily=LABEL_FONT,
        fontSize="9",
        fontSizeUnit="Point",
        textColor=_rgba("#2c3e50"),
        fontWeight="50",
        textOpacity="1",
    )
    _sub(style, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferSizeUnits="MM", bufferColor="255,255,255,255")
    polygon = spec.geometry == "Polygon"
    # points: around the marker; polygons: horizontal, inside the shape (``polygonPlacementFlags`` 2: inside)
    _sub(
        settings,
        "placement",
        placement="1" if polygon else "6",
        polygonPlacementFlags="2",
        dist="1",
        distUnits="MM",
        centroidWhole="0",
        centroidInside="1",
    )
    scaled = spec.label_max_scale > 0
    _sub(
        settings,
        "rendering",
        drawLabels="1",
        scaleVisibility="1" if scaled else "0",
        scaleMin=str(int(spec.label_max_scale)) if scaled else "0",
        scaleMax="1",
        obstacle="1",
        displayAll="0",
    )


def _srs(parent: ET.Element) -> None:
    srs = _sub(parent, "spatialrefsys")
    for key, value in _WGS84.items():
        _sub(srs, key, value)


def datasource(base_url: str, collection: str, authcfg: str) -> str:
    """The OAPIF data source of a collection: QGIS's ``key='value'`` list (quotes inside values escaped).

    >>> datasource("http://127.0.0.1:8000", "schools", "gsafety")
    "pageSize='1000' url='http://127.0.0.1:8000' typename='schools' authcfg='gsafety'"
    """

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return f"pageSize='1000' url={quoted(base_url)} typename={quoted(collection)} authcfg={quoted(authcfg)}"


def _layer_id(collection: str) -> str:
    return f"geo_safety_{collection}"


def project_xml(
    base_url: str,
    *,
    authcfg: str = AUTHCFG,
    risk_breaks: tuple[float, ...] = DEFAULT_RISK_BREAKS,
    extent: tuple[float, float, float, float] = DEFAULT_EXTENT,
    title: str = "校园安全 geo_safety",
) -> bytes:
    """The ``.qgs`` document: every collection as an OAPIF layer of ``base_url`` with the web maps' styles."""
    if not re.fullmatch(r"[A-Za-z0-9]{7}", authcfg):
        raise ValueError(f"a QGIS authentication configuration id is 7 letters or digits, not {authcfg!r}")
    if not re.match(r"https?://[^\s/]+", base_url):
        raise ValueError(f"the service URL must start with http:// or https:// and name a host, not {base_url!r}")
    base_url = base_url.rstrip("/")
    groups = layer_specs(risk_breaks)
    missing = set(COLLECTIONS) - {spec.collection for _, specs in groups for spec in specs}
    assert not missing, f"collections without a layer in the QGIS project: {missing}"

    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    _sub(root, "homePath", path="")
    _sub(root, "title", title)
    _srs(_sub(root, "projectCrs"))
    tree = _sub(root, "layer-tree-group")
    _sub(_sub(tree, "customproperties"), "Option")
    for group_name, specs in groups:
        group = _sub(tree, "layer-tree-group", name=group_name, checked="Qt::Checked", expanded="1")
        _sub(_sub(group, "customproperties"), "Option")
        for spec in specs:
            node = _sub(
                group,
                "layer-tree-layer",
                id=_layer_id(spec.collection),
                name=spec.name,
                source=datasource(base_url, spec.collection, authcfg),
                providerKey="OAPIF",
                checked="Qt::Checked" if spec.visible else "Qt::Unchecked",
                expanded="1",
            )
            _sub(_sub(node, "customproperties"), "Option")

    canvas = _sub(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _sub(canvas, "units", "degrees")
    box = _sub(canvas, "extent")
    for key, value in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
        _sub(box, key, repr(float(value)))
    _sub(canvas, "rotation", "0")
    _srs(_sub(canvas, "destinationsrs"))

    layers = _sub(root, "projectlayers")
    for _, specs in groups:
        for spec in specs:
            attrs = {"type": "vector", "geometry": spec.geometry, "labelsEnabled": "1" if spec.label_field else "0"}
            layer = _sub(layers, "maplayer", **attrs)
            _sub(layer, "id", _layer_id(spec.collection))
            _sub(layer, "datasource", datasource(base_url, spec.collection, authcfg))
            _sub(layer, "layername", spec.name)
            _srs(_sub(layer, "srs"))
            _sub(layer, "provider", "OAPIF", encoding="UTF-8")
            _renderer(layer, spec)
            if spec.label_field:
                _labeling(layer, spec)
            _sub(layer, "layerOpacity", "1")
    order = _sub(root, "layerorder")
    for _, specs in groups:
        for spec in specs:
            _sub(order, "layer", id=_layer_id(spec.collection))
    ET.indent(root)
    buffer = io.BytesIO()
    buffer.write(b"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n")
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=False)
    return buffer.getvalue()


def write_project(out: Path, base_url: str, **options: Any) -> Path:
    """Write ``out``: a ``.qgz`` (zipped, as QGIS saves) or, named ``.qgs``, the plain XML."""
    document = project_xml(base_url, **options)
    if out.suffix.lower() == ".qgs":
        out.write_bytes(document)
        return out
    if out.suffix.lower() != ".qgz":
        raise ValueError(f"the project file must end in .qgz or .qgs, not {out.name!r}")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(out.with_suffix(".qgs").name, document)
    return out

"""The data layers of a map page as plain JSON: what ``mapdata.js`` draws, served by view or embedded in a file.

A served map page is a small shell (boundary, panel, controls); its features come from a JSON endpoint of the
app for the part of the map in view (``bbox``), at most ``VIEW_CAP`` per layer, and are fetched again when the
view moves. A file written by the command line embeds the same JSON for the whole map (no server to ask).
Both are drawn by the same code, so a file and a page never differ. Every layer carries the legend rows of the
features it holds, so the legend shows what is drawn in the view, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import shapely

#: features of one layer sent for one view; beyond it the most important come first and the legend says so
VIEW_CAP = 1500
#: hotspot outlines and rule rings are specks below this zoom: markers stand for them there
DETAIL_MIN_ZOOM = 13
#: the view is padded by this share of its size on each side, so a short pan needs no new request
VIEW_PAD = 0.25

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Symbol:
    """One legend row drawn as the map draws it: shape, fill and edge colour, label.

    Shapes: ``dot`` (circle marker; ``size`` 0–2 for markers sized by class), ``square``, ``area`` (a filled
    polygon), ``line``, ``dashed`` (a dashed line), ``ring`` (an unfilled dashed circle), ``heat`` (a colour ramp,
    ``fill`` = its colours separated by spaces), ``stop`` (a numbered stop), ``start``.
    """

    shape: str
    fill: str | None
    edge: str | None
    label: str
    size: int = 0


@dataclass
class Layer:
    """A layer of features drawn alike: ``points`` (circle markers), ``areas`` (polygons) or ``heat``.

    ``style`` holds Leaflet path options shared by its features (``className`` too); a feature's
    ``_fill``/``_edge``/``_radius`` properties override fill, edge colour and radius. ``popup`` fields and
    aliases make the click table, ``label`` the hover text (after ``label_prefix``). ``symbols`` computes the
    legend rows of the features actually sent. ``order`` ranks features when a view holds more than the cap
    (they arrive most important first). ``min_zoom``: not drawn (nor sent) below it.
    """

    key: str
    name: str
    kind: str
    features: list[dict[str, Any]]
    style: dict[str, Any] = field(default_factory=dict)
    popup: tuple[list[str], list[str]] = ([], [])
    label: str | None = None
    label_prefix: str = ""
    symbols: Callable[[list[dict[str, Any]]], list[Symbol]] | None = None
    min_zoom: int | None = None
    hidden_note: str = ""
    clip: bool = False  # areas cut to the view (dissolved rings span a whole district)
    _shapes: list[Any] | None = field(default=None, repr=False)

    def cut(self, features: list[dict[str, Any]], view: BBox) -> list[dict[str, Any]]:
        """``features`` of this layer cut to ``view`` (only for ``clip`` layers; parsed once per layer)."""
        if not self.clip:
            return features
        if self._shapes is None:
            self._shapes = [shapely.geometry.shape(f["geometry"]) for f in self.features]
        index = {id(f): i for i, f in enumerate(self.features)}
        out = []
        for feature in features:
            piece = shapely.clip_by_rect(self._shapes[index[id(feature)]], *view)
            if piece.is_empty:
                continue
            geometry = json.loads(shapely.to_geojson(shapely.set_precision(piece, 1e-6)))
            out.append({**feature, "geometry": geometry, "bbox": [round(v, 6) for v in piece.bounds]})
        return out


def point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON point to 6 decimals (~0.1 m)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": properties,
    }


def area(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON polygon feature with its ``bbox`` (what the view filter compares)."""
    minx, miny, maxx, maxy = shapely.geometry.shape(geometry).bounds
    return {
        "type": "Feature",
        "bbox": [round(minx, 6), round(miny, 6), round(maxx, 6), round(maxy, 6)],
        "geometry": geometry,
        "properties": properties,
    }


def _touches(feature: dict[str, Any], view: BBox) -> bool:
    west, south, east, north = view
    box: list[float] | None = feature.get("bbox")
    if box is None:
        x: float
        y: float
        x, y = feature["geometry"]["coordinates"][:2]
        return west <= x <= east and south <= y <= north
    return box[0] <= east and box[2] >= west and box[1] <= north and box[3] >= south


def padded(view: BBox, share: float = VIEW_PAD) -> BBox:
    west, south, east, north = view
    dx, dy = (east - west) * share, (north - south) * share
    return west - dx, south - dy, east + dx, north + dy


def parse_bbox(value: str | None) -> BBox | None:
    """``west,south,east,north`` in degrees, or None for the whole map.

    >>> parse_bbox("109.1,21.4,109.3,21.6")
    (109.1, 21.4, 109.3, 21.6)
    >>> parse_bbox("1,2,3")
    Traceback (most recent call last):
    ...
    ValueError: bbox is west,south,east,north in degrees
    """
    if value is None or value == "":
        return None
    try:
        west, south, east, north = (float(v) for v in value.split(","))
    except ValueError:
        raise ValueError("bbox is west,south,east,north in degrees") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ValueError("bbox is west,south,east,north in degrees, west ≤ east and south ≤ north")
    return west, south, east, north


def view_of(
    layers: Sequence[Layer],
    *,
    bbox: BBox | None = None,
    zoom: int | None = None,
    cap: int = VIEW_CAP,
    fixed: Sequence[Symbol] = (),
    note: str = "",
) -> dict[str, Any]:
    """The JSON a page draws for one view: each layer's features in ``bbox`` (all when None), at most ``cap``
    of them (the first, i.e. the most important), and the legend of exactly what is sent."""
    out: list[dict[str, Any]] = []
    legend: list[Symbol] = []
    notes: list[str] = []
    for layer in layers:
        shown_at_zoom = layer.min_zoom is None or zoom is None or zoom >= layer.min_zoom
        inside = [f for f in layer.features if bbox is None or _touches(f, bbox)] if shown_at_zoom else []
        sent = inside[:cap]
        if bbox is not None:
            sent = layer.cut(sent, bbox)
        if layer.symbols is not None and sent:
            legend += layer.symbols(sent)
        if not shown_at_zoom and layer.hidden_note:
            notes.append(layer.hidden_note)
        if len(sent) < len(inside):
            notes.append(f"{layer.name}：本视图内 {len(inside)} 处，显示最重要的 {len(sent)} 处，放大可看到更多。")
        out.append(
            {
                "key": layer.key,
                "name": layer.name,
                "kind": layer.kind,
                "style": layer.style,
                "popup_fields": layer.popup[0],
                "popup_aliases": layer.popup[1],
                "label": layer.label,
                "label_prefix": layer.label_prefix,
                "total": len(layer.features),
                "in_view": len(inside),
                "shown": len(sent),
                "min_zoom": layer.min_zoom,
                "features": sent,
            }
        )
    seen: set[Symbol] = set()
    rows = []
    for symbol in [*legend, *fixed]:
        if symbol not in seen:
            seen.add(symbol)
            rows.append(asdict(symbol))
    return {
        "bbox": list(bbox) if bbox else None,
        "zoom": zoom,
        "layers": out,
        "legend": rows,
        "notes": [n for n in (note, *notes) if n],
    }

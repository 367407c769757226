"""The bodies of the map pages' data endpoints (``/maps/.../data``, ``/maps/districts/{code}/summary``).

A map page is a small shell; ``mapdata.js`` fetches these for the part of the map in view. Text in
``properties`` and ``label`` is data: the page writes it with ``textContent`` only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class MapFeature(BaseModel):
    """A GeoJSON Feature in WGS84; polygons carry their ``bbox``. Properties starting with ``_`` style the
    feature (``_fill``, ``_edge``: ``#rrggbb``; ``_radius``: pixels); the others are shown in its popup."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any]
    properties: dict[str, Any]
    bbox: list[float] | None = None


class LegendRow(BaseModel):
    """One legend row drawn as the map draws it (``shape``: dot, area, line, dashed, ring, heat, stop…)."""

    shape: str
    fill: str | None
    edge: str | None
    label: str
    size: int = 0


class MapLayer(BaseModel):
    key: str = Field(description="stable id of the layer (the page keeps one Leaflet layer per key)")
    name: str = Field(description="the layer's name in the layer control (Chinese)")
    kind: Literal["points", "areas", "heat"]
    style: dict[str, Any] = Field(description="Leaflet path (or heat) options shared by the layer's features")
    popup_fields: list[str]
    popup_aliases: list[str]
    label: str | None = Field(description="property shown on hover")
    label_prefix: str
    total: int = Field(description="features of the layer on the whole map")
    in_view: int = Field(description="of them in the requested bbox (0 below min_zoom)")
    shown: int = Field(description="sent: at most the cap, the most important first")
    min_zoom: int | None = Field(description="the layer is drawn (and sent) from this zoom on")
    features: list[MapFeature]


class MapView(BaseModel):
    """What a map page draws for one view: its layers and the legend of exactly what was sent."""

    bbox: list[float] | None = Field(description="west, south, east, north asked for (null: the whole map)")
    zoom: int | None
    layers: list[MapLayer]
    legend: list[LegendRow]
    notes: list[str] = Field(description="what the legend's reader must know (classes, features left out)")


class MissingCount(BaseModel):
    item: str
    label: str
    count: int


class DistrictSummary(BaseModel):
    """The counts in a district map's panel."""

    schools: int
    students: int
    hotspots: int
    unguarded_zones: int
    unguarded_by_missing: list[MissingCount]
    violations: int
    premises_due: int
    inspections_30d: int

"""Response bodies of the map pages' data endpoints (defined in :mod:`geo_safety.shapes.maps`)."""

from __future__ import annotations

from geo_safety.shapes.maps import (
    DistrictSummary,
    LegendRow,
    MapFeature,
    MapLayer,
    MapView,
    MissingCount,
)

__all__ = [
    "DistrictSummary",
    "LegendRow",
    "MapFeature",
    "MapLayer",
    "MapView",
    "MissingCount",
]

"""GeoJSON building blocks of the response models (defined in :mod:`geo_safety.shapes.geojson`, where the
services build them) and the GeoJSON media type, which only the API needs."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from geo_safety.shapes.geojson import (
    Area,
    Body,
    Geometry,
    InspectionResultName,
    IsoDate,
    IsoDateTime,
    LineString,
    Link,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Number,
    Point,
    Polygon,
    TargetType,
    absent_or,
)

__all__ = [
    "Area",
    "Body",
    "GeoJSONResponse",
    "Geometry",
    "InspectionResultName",
    "IsoDate",
    "IsoDateTime",
    "LineString",
    "Link",
    "MultiLineString",
    "MultiPoint",
    "MultiPolygon",
    "Number",
    "Point",
    "Polygon",
    "TargetType",
    "absent_or",
]


class GeoJSONResponse(JSONResponse):
    """``application/geo+json``: the media type of feature collections that GIS clients read."""

    media_type = "application/geo+json"

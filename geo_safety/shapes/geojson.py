"""GeoJSON building blocks of the data models: geometries, numbers, ISO strings.

Services build these models and the API answers with them (``geo_safety.api.schemas_geojson`` adds the GeoJSON
media type). Models derive from :class:`Body` (``extra="forbid"``): a key a service adds without adding it here makes
the response fail (500, logged with the key's name, and red in the fuzzing and API tests) instead of vanishing
silently from the answer; the OpenAPI document says ``additionalProperties: false``, so a generated client can
trust its types. Only bodies that are open by nature say ``extra="allow"`` (and why, in their docstring).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

#: A JSON number kept as sent: an integer stays an integer (``1``, not ``1.0``) in the answer.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
#: ``YYYY-MM-DD`` (a day in Asia/Shanghai), as the services write it.
IsoDate = Annotated[str, Field(json_schema_extra={"format": "date"})]
#: ISO 8601 with an offset, as the services write it (``+08:00`` for local times).
IsoDateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
InspectionResultName = Literal["pass", "fail", "closed", "not_found"]
TargetType = Literal["premise", "water_hazard"]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent_or(description: str = "") -> Any:
    """A key the service sends only sometimes (never as ``null``): optional in the schema, omitted when unset.

    Routes with such keys set ``response_model_exclude_unset=True``, so an absent key stays absent.
    """
    return Field(None, description=description or None, json_schema_extra=_no_default)


class Body(BaseModel):
    """A response body that is exactly its fields (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid")


# -- geometries (RFC 7946), told apart by ``type`` ------------------------------------------------------------
def _positions(depth: int, description: str) -> WithJsonSchema:
    """Nested arrays of ``[longitude, latitude]`` positions, ``depth`` levels above the position.

    Documented exactly, passed through unvalidated: they come from PostGIS (``ST_AsGeoJSON``) or shapely, and
    checking each number cost 0.12–0.3 s per 200,000 positions here (a district layer has that many) against
    0.03 s to pass them through; the fuzzing tests check them against this schema.
    """
    schema: dict[str, Any] = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return WithJsonSchema({**schema, "description": description})


class Point(Body):
    type: Literal["Point"]
    coordinates: Annotated[Any, _positions(0, "[longitude, latitude]")]


class MultiPoint(Body):
    type: Literal["MultiPoint"]
    coordinates: Annotated[Any, _positions(1, "points")]


class LineString(Body):
    type: Literal["LineString"]
    coordinates: Annotated[Any, _positions(1, "the line's positions")]


class MultiLineString(Body):
    type: Literal["MultiLineString"]
    coordinates: Annotated[Any, _positions(2, "lines")]


class Polygon(Body):
    type: Literal["Polygon"]
    coordinates: Annotated[Any, _positions(2, "rings: the outer one first, then the holes")]


class MultiPolygon(Body):
    type: Literal["MultiPolygon"]
    coordinates: Annotated[Any, _positions(3, "polygons, each as its rings")]


Geometry = Annotated[
    Point | MultiPoint | LineString | MultiLineString | Polygon | MultiPolygon, Field(discriminator="type")
]
Area = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


class Link(Body):
    href: str
    rel: str
    type: str
    title: str

"""Documents of the OGC API – Features routes (landing links, collections, items) as the standard shapes them."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from geo_safety.api.schemas_geojson import Body, Geometry, IsoDateTime, Link, Number, absent_or


class Conformance(Body):
    conformsTo: list[str] = Field(description="URIs of the conformance classes implemented")


class SpatialExtent(Body):
    bbox: list[list[Number]] = Field(description="[[minLon, minLat, maxLon, maxLat]] (CRS84)")
    crs: str


class Extent(Body):
    spatial: SpatialExtent


class CollectionDoc(Body):
    id: str
    title: str
    description: str
    itemType: Literal["feature"]
    crs: list[str]
    links: list[Link]
    extent: Extent
    queryables: list[str] = Field(description="properties that take an equality filter (?name=value)")
    parameters: list[str] = absent_or("query collections only: their own parameters (date, district, radius_m)")


class Collections(Body):
    links: list[Link]
    collections: list[CollectionDoc]


class OgcProperties(Body):
    """A feature's properties: the collection's own columns (``queryables`` of ``/collections/{id}``).

    Open (``extra="allow"``): one route serves every collection and their columns differ; the same properties
    are typed per layer and query in ``/api/v1/layers/{layer}`` (``SchoolProperties``…),
    ``/api/v1/inspections/due`` (``DueProperties``) and ``/api/v1/hotspots/drowning`` (``HotspotProperties``).
    """

    model_config = ConfigDict(extra="allow")


class OgcFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: Geometry = Field(description="CRS84, or the datum asked for with datum=gcj02|bd09")
    properties: OgcProperties
    links: list[Link] = absent_or("single features only: self and collection")


class OgcFeatureCollection(Body):
    type: Literal["FeatureCollection"]
    features: list[OgcFeature]
    numberMatched: int
    numberReturned: int
    timeStamp: IsoDateTime
    links: list[Link] = Field(description="self, alternate (HTML), next and prev pages")

"""GeoJSON answers of the layers and the queries: one properties model per layer and query, so a client knows each
property's name, type and whether it can be ``null`` (see :mod:`geo_safety.shapes.geojson` for the rules)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from geo_safety.shapes.geojson import (
    Area,
    Body,
    Geometry,
    IsoDate,
    IsoDateTime,
    MultiPolygon,
    Number,
    Point,
    TargetType,
    absent_or,
)

DueReason = Literal["failed_recheck", "never_inspected", "overdue"]


# -- the four layers (GET /api/v1/layers/{layer}) -------------------------------------------------------------
class DistrictProperties(Body):
    code: str = Field(description="administrative division code (adcode)")
    name: str
    level: str


class SchoolProperties(Body):
    id: str = Field(description="school code")
    name: str
    kind: str = Field(description="kindergarten, primary, middle, …")
    students: int
    boarding: bool
    address: str | None
    district_code: str
    full_time_guards: bool
    closed_campus: bool
    alarm_linked: bool
    video_linked: bool


class PremiseProperties(Body):
    id: str
    name: str
    category: str
    address: str | None
    license_no: str | None
    status: str = Field(description="open or closed, as now")
    district_code: str


class WaterHazardProperties(Body):
    id: str
    name: str
    kind: str = Field(description="reservoir, pond, river, canal, coast, beach, pit, other")
    depth_m: float | None
    responsible_unit: str | None
    responsible_person: str | None
    phone: str | None
    warning_sign: bool
    lifebuoy: bool
    rescue_rope: bool
    rescue_pole: bool
    fence: bool
    district_code: str
    version: int


class DistrictFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: MultiPolygon
    properties: DistrictProperties


class SchoolFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: Point = Field(description="the main gate")
    properties: SchoolProperties


class PremiseFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: Point
    properties: PremiseProperties


class WaterHazardFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: MultiPolygon
    properties: WaterHazardProperties


class _Page(Body):
    type: Literal["FeatureCollection"]
    numberMatched: int = Field(description="features matching, over all pages")
    numberReturned: int = Field(description="features in this page")


class DistrictCollection(_Page):
    features: list[DistrictFeature]


class SchoolCollection(_Page):
    features: list[SchoolFeature]


class PremiseCollection(_Page):
    features: list[PremiseFeature]


class WaterHazardCollection(_Page):
    features: list[WaterHazardFeature]


LayerCollection = DistrictCollection | SchoolCollection | PremiseCollection | WaterHazardCollection
#: layer name -> the model of its answer
LAYER_COLLECTIONS: dict[str, type[LayerCollection]] = {
    "districts": DistrictCollection,
    "schools": SchoolCollection,
    "premises": PremiseCollection,
    "water_hazards": WaterHazardCollection,
}


# -- the due list and today's route (GET /api/v1/inspections/due, /today) ---------------------------------------
class DueProperties(Body):
    """A premise or water zone due for inspection (built by ``services.inspections._feature``)."""

    target_type: TargetType
    target_id: str
    name: str
    category: str = Field(description="premises category, or a water zone's kind")
    address: str | None
    district_code: str
    reason: DueReason | None = Field(description="why it is due (null only in lists that include all premises)")
    violation: bool = Field(description="the category is forbidden this close to a school")
    priority: int = Field(description="rank in the due list, 1 = first")
    nearest_school_id: str
    nearest_school_name: str
    distance_m: float = Field(description="geodesic metres to the nearest school's campus or gate")
    rule_distance_m: float = Field(description="the distance the rule watches")
    last_inspected_on: IsoDate | None
    days_overdue: int | None


class DueFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: Point = Field(description="the premise, or a point on the zone's surface (WGS84)")
    properties: DueProperties


class DueCollection(_Page):
    """Due premises and water zones on ``date``, in priority order."""

    date: IsoDate
    features: list[DueFeature]


class RouteProperties(DueProperties):
    route_order: int = Field(description="the stop's place on the route, 1 = first")
    leg_distance_m: float = Field(description="metres from the previous stop (or the start)")


class RouteFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: Point
    properties: RouteProperties


class RouteLine(Body):
    type: Literal["LineString"]
    coordinates: list[list[Number]] = Field(description="the start (when given), then the stops in order")


class TodayRoute(_Page):
    """The highest-priority due targets as a short route."""

    date: IsoDate
    features: list[RouteFeature]
    start: list[float] | None = Field(description="[lon, lat] (WGS84) the route starts from; null: none given")
    route: RouteLine
    route_length_m: float


# -- drowning hotspots (GET /api/v1/hotspots/drowning) ---------------------------------------------------------
class HotspotProperties(Body):
    hazard_id: str
    name: str
    kind: str
    district_code: str
    missing: list[str] = Field(description="what the zone lacks on the day: measures, responsible_person, patrol")
    schools_within: int = Field(description="schools within the radius, of any district")
    students_within: int
    schools_in_other_districts: int = Field(description="of those, schools outside the caller's districts")
    nearest_school_id: str | None = Field(description="null when only schools of other districts are near")
    nearest_school_name: str | None
    distance_m: float
    responsible_unit: str | None
    responsible_person: str | None
    phone: str | None
    risk_score: float
    key_period_provisional: bool = Field(description="the day's key period rests on computed or missing dates")


class HotspotFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: Area
    properties: HotspotProperties


class HotspotCollection(_Page):
    """Unguarded zones near schools on ``date``, highest ``risk_score`` first."""

    date: IsoDate
    key_period: str | None = Field(description="holiday, summer_vacation, winter_vacation, weekend, … (null: none)")
    provisional: bool
    calendar_notice: str | None = Field(description="shown on maps (Chinese + English); null when the dates are firm")
    radius_m: Number
    features: list[HotspotFeature]


# -- schools' security compliance (GET /api/v1/schools/compliance) ----------------------------------------------
class ComplianceProperties(Body):
    id: str
    name: str
    kind: str
    students: int
    district_code: str
    lacking: list[str] = Field(description="full_time_guards, closed_campus, alarm_linked, video_linked")


class ComplianceFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: Point
    properties: ComplianceProperties


class ComplianceCollection(Body):
    type: Literal["FeatureCollection"]
    numberMatched: int
    features: list[ComplianceFeature]


# -- one water zone as planners edit it (/api/v1/hazards/{id}) --------------------------------------------------
class Patrol(Body):
    valid_from: IsoDate
    valid_to: IsoDate
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(description="ISO weekdays, 1 = Monday")
    holidays: bool = Field(description="the patrol also covers public holidays")
    patroller: str | None


class ZoneProperties(Body):
    id: str
    name: str
    kind: str
    depth_m: float | None
    owner: str | None
    responsible_unit: str | None
    responsible_person: str | None
    phone: str | None
    warning_sign: bool
    lifebuoy: bool
    rescue_rope: bool
    rescue_pole: bool
    fence: bool
    patrols: list[Patrol]
    note: str | None
    district_code: str
    version: int = Field(description="send it back (or as If-Match) with an edit")
    updated_at: IsoDateTime
    missing: list[str] = Field(description="what the zone lacks on the day asked")
    guarded: bool


class Repair(Body):
    """What ``repair=true`` changed in the geometry sent."""

    was: str = Field(description="why the geometry was invalid")
    parts: int
    area_m2: float


class ZoneFeature(Body):
    type: Literal["Feature"]
    id: str
    geometry: MultiPolygon
    properties: ZoneProperties
    repaired: Repair = absent_or("only after a write with repair=true that changed the geometry")


class ZoneSnapshot(Body):
    """The zone's row as the history trigger stored it (every column, and ``geometry``).

    Open (``extra="allow"``): each entry keeps the columns the table had when it was written, so old entries and
    new ones differ; the columns every version has are named.
    """

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    kind: str
    district_code: str
    version: int
    geometry: Geometry


class ZoneChange(Body):
    version: int
    action: Literal["create", "update", "delete", "restore", "baseline"]
    actor: str | None
    client: str | None
    at: IsoDateTime
    old_values: ZoneSnapshot | None = Field(description="before the change (null for create and baseline)")
    new_values: ZoneSnapshot
    changed: list[str] = Field(description="the keys whose values differ (updated_at and version left out)")


# -- the bundled basemap (GET /api/v1/basemap/features) ---------------------------------------------------------
class BasemapProperties(Body):
    class_: Literal["land", "district_line", "town"] = Field(alias="class")
    code: str
    name: str
    district_code: str = absent_or("towns only")


class BasemapFeature(Body):
    type: Literal["Feature"]
    properties: BasemapProperties
    geometry: Geometry


class BasemapFeatures(Body):
    type: Literal["FeatureCollection"]
    attribution: str
    bbox: list[float] = absent_or("west, south, east, north (WGS84); absent when no district is loaded")
    features: list[BasemapFeature]

"""Water hazard zones (planners write; reads as for the inspection map) and drowning hotspots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from geo_safety.api.deps import Allowed, EngineDep, RulesDep, ScopeDep, UserDep, actor_of
from geo_safety.api.limits import HEAVY_IF_WIDE_RADIUS
from geo_safety.api.params import Day, Offset, check_zone_vertices
from geo_safety.api.schemas_features import HotspotCollection, ZoneChange, ZoneFeature
from geo_safety.crs import Datum
from geo_safety.errors import InvalidInput, TooLarge
from geo_safety.rules import today_local
from geo_safety.services import hazards, hotspots
from geo_safety.services.users import Principal

router = APIRouter(prefix="/api/v1", tags=["water hazards"])
PlannerDep = Annotated[Principal, Depends(Allowed("edit_hazards"))]
DayQuery = Day


class HazardFeature(BaseModel):
    """A GeoJSON Feature (Polygon or MultiPolygon) with the datum of its coordinates."""

    type: str = Field("Feature", pattern="^Feature$")
    geometry: dict[str, Any]
    properties: dict[str, Any]
    datum: Datum = Field(description="wgs84 | cgcs2000 | gcj02 (AMap/Tencent) | bd09 (Baidu)")


class HazardPatch(BaseModel):
    properties: dict[str, Any] = Field(default_factory=dict)
    geometry: dict[str, Any] | None = None
    datum: Datum = Datum.WGS84
    version: int | None = Field(None, description="the version you read (or send If-Match)")


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    cleaned = value.strip().removeprefix("W/").strip('"')
    if not cleaned.isdigit():
        raise InvalidInput('If-Match takes the ETag of the version you read, e.g. "3"', code="version.malformed")
    return int(cleaned)


def _check_vertices(geometry: dict[str, Any]) -> None:
    """The vertex limit, before shapely or pyarrow spend memory on the geometry."""
    try:
        check_zone_vertices(geometry)
    except TooLarge as exc:
        exc.code = "zone.too_many_vertices"
        raise


def _with_etag(response: Response, feature: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = f'"{feature["properties"]["version"]}"'
    return feature


@router.post("/hazards", status_code=201, response_model=ZoneFeature, response_model_exclude_unset=True)
def create_hazard(
    body: HazardFeature,
    request: Request,
    response: Response,
    engine: EngineDep,
    rules: RulesDep,
    user: PlannerDep,
    repair: bool = False,
) -> dict[str, Any]:
    """Add a zone. Invalid polygons are refused with the reason and place, or repaired with ``repair=true``."""
    _check_vertices(body.geometry)
    feature = hazards.create(
        engine, rules, user, actor_of(request, user), body.properties, body.geometry, body.datum, repair, today_local()
    )
    return _with_etag(response, feature)


@router.get("/hazards/{hazard_id}", response_model=ZoneFeature, response_model_exclude_unset=True)
def get_hazard(
    hazard_id: str, response: Response, engine: EngineDep, rules: RulesDep, user: UserDep, day: DayQuery = None
) -> dict[str, Any]:
    """One zone with its version (also as ETag) and what it lacks on ``date``."""
    return _with_etag(response, hazards.get(engine, rules, user, hazard_id, day or today_local()))


@router.patch("/hazards/{hazard_id}", response_model=ZoneFeature, response_model_exclude_unset=True)
def patch_hazard(
    hazard_id: str,
    body: HazardPatch,
    request: Request,
    response: Response,
    engine: EngineDep,
    rules: RulesDep,
    user: PlannerDep,
    repair: bool = False,
    if_match: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Change properties and/or geometry of the version you read; a stale version gets 412 (If-Match) or 409."""
    if body.geometry is not None:
        _check_vertices(body.geometry)
    header_version = _if_match(if_match)
    feature = hazards.update(
        engine,
        rules,
        user,
        actor_of(request, user),
        hazard_id,
        header_version if header_version is not None else body.version,
        body.properties,
        body.geometry,
        body.datum,
        repair,
        today_local(),
        precondition=header_version is not None,
    )
    return _with_etag(response, feature)


@router.delete("/hazards/{hazard_id}", status_code=204)
def delete_hazard(
    hazard_id: str,
    request: Request,
    engine: EngineDep,
    user: PlannerDep,
    if_match: Annotated[str | None, Header()] = None,
    version: Annotated[int | None, Query(ge=1, description="the version you read (or send If-Match)")] = None,
) -> None:
    """Soft delete of the version you read: without If-Match or ``version`` 428; stale: 412 (If-Match) or 409.

    The zone leaves maps and queries and stays in the history.
    """
    header_version = _if_match(if_match)
    hazards.delete(
        engine,
        user,
        actor_of(request, user),
        hazard_id,
        header_version if header_version is not None else version,
        precondition=header_version is not None,
    )


@router.get("/hazards/{hazard_id}/history", response_model=list[ZoneChange])
def hazard_history(hazard_id: str, engine: EngineDep, user: UserDep) -> list[dict[str, Any]]:
    """Every change: version, action, who, from where, when, old and new values and geometry."""
    return hazards.history(engine, user, hazard_id)


@router.get("/hotspots/drowning", response_model=HotspotCollection, dependencies=[HEAVY_IF_WIDE_RADIUS])
def drowning_hotspots(
    engine: EngineDep,
    rules: RulesDep,
    scope: ScopeDep,
    day: DayQuery = None,
    radius_m: Annotated[float | None, Query(gt=0, le=5000)] = None,
    limit: Annotated[int, Query(ge=1, le=hotspots.MAX_PAGE)] = 1000,
    offset: Offset = 0,
) -> HotspotCollection:
    """Unguarded zones within ``radius_m`` (default 1000) of a school on ``date``, highest risk first."""
    return hotspots.hotspot_collection(engine, rules, day or today_local(), scope, radius_m, limit, offset)

"""Due premises, today's plan and recording a visit."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from geo_safety.api.deps import Allowed, EngineDep, RulesDep, ScopeDep, actor_of
from geo_safety.api.limits import HEAVY_IF_CITY
from geo_safety.api.params import Day, Offset, SaneDate, SaneDateTime
from geo_safety.api.schemas import InspectionRecorded
from geo_safety.api.schemas_features import DueCollection, TodayRoute
from geo_safety.crs import Datum
from geo_safety.errors import InvalidInput
from geo_safety.rules import InspectionResult, today_local
from geo_safety.services import inspections
from geo_safety.services.users import Principal

router = APIRouter(prefix="/api/v1/inspections", tags=["inspections"])

DayQuery = Day


def parse_start(start: str | None) -> tuple[float, float] | None:
    """``LON,LAT`` → floats, with a reason when it is not that.

    >>> parse_start("109.12,21.48")
    (109.12, 21.48)
    """
    if start is None:
        return None
    parts = start.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"start must be LON,LAT in decimal degrees, got {start!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"start {start!r} is not a longitude,latitude pair")
    return lon, lat


@router.get("/due", response_model=DueCollection, dependencies=[HEAVY_IF_CITY])
def due(
    engine: EngineDep,
    rules: RulesDep,
    scope: ScopeDep,
    day: DayQuery = None,
    limit: Annotated[int, Query(ge=1, le=inspections.MAX_PAGE)] = 1000,
    offset: Offset = 0,
) -> DueCollection:
    """Premises due for inspection on ``date`` (GeoJSON, priority order; paged)."""
    return inspections.due_collection(engine, rules, day or today_local(), scope, limit=limit, offset=offset)


@router.get("/today", response_model=TodayRoute, dependencies=[HEAVY_IF_CITY])
def today(
    engine: EngineDep,
    rules: RulesDep,
    scope: ScopeDep,
    day: DayQuery = None,
    limit: Annotated[int, Query(ge=1, le=inspections.MAX_PLAN)] = 20,
    start: Annotated[str | None, Query(description="LON,LAT where the route starts")] = None,
    start_datum: Datum = Datum.WGS84,
    within_m: Annotated[float | None, Query(gt=0, le=100_000, description="only stops this close to start")] = None,
) -> TodayRoute:
    """The inspector's plan: the highest-priority due premises as a short route from ``start``."""
    origin = parse_start(start)
    if origin is not None:
        from geo_safety.crs import to_wgs84

        lon, lat = to_wgs84(origin[0], origin[1], start_datum)
        origin = (float(lon), float(lat))
    # the due list behind the plan is cached per district until the data changes (inspections.shared_due)
    return inspections.today_plan(
        engine, rules, day or today_local(), scope, limit=limit, start=origin, within_m=within_m
    )


class Position(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    datum: Datum = Field(description="wgs84 for phone GPS; gcj02 for AMap/WeChat; bd09 for Baidu")


class InspectionIn(BaseModel):
    target_type: Literal["premise", "water_hazard"] = "premise"
    target_id: str = Field(min_length=1, max_length=100)
    inspected_at: SaneDateTime | None = Field(None, description="default: now")
    result: InspectionResult
    findings: str | None = Field(None, max_length=4000)
    follow_up_due: SaneDate | None = None
    position: Position | None = None
    measures: dict[str, bool] | None = Field(None, description="water zones: the measures found on site")


@router.post("", status_code=201, response_model=InspectionRecorded, response_model_exclude_unset=True)
def record(
    body: InspectionIn,
    request: Request,
    engine: EngineDep,
    rules: RulesDep,
    user: Annotated[Principal, Depends(Allowed("inspect"))],
) -> dict[str, Any]:
    """Record a visit. A position more than 100 m from the target is kept and flagged ``off_site``."""
    visit = inspections.NewInspection(
        target_type=body.target_type,
        target_id=body.target_id,
        result=body.result.value,
        inspected_at=body.inspected_at,
        findings=body.findings,
        follow_up_due=body.follow_up_due,
        lon=body.position.lon if body.position else None,
        lat=body.position.lat if body.position else None,
        datum=body.position.datum if body.position else Datum.WGS84,
        measures=body.measures,
    )
    return inspections.record_inspection(engine, rules, user, actor_of(request, user), visit)

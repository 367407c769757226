"""The inspector's stable day plan (``/api/v1/plans/today``) and the visit form's checklists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from geo_safety.api.deps import Allowed, EngineDep, RulesDep, ScopeDep, UserDep
from geo_safety.api.limits import HEAVY_IF_CITY
from geo_safety.api.params import Day
from geo_safety.api.schemas_plans import Checklists, DayPlan, ReplanIn
from geo_safety.crs import to_wgs84
from geo_safety.rules import today_local
from geo_safety.services import features, plans
from geo_safety.services.inspections import MAX_PLAN
from geo_safety.services.users import Principal

router = APIRouter(prefix="/api/v1", tags=["plans"])

InspectorDep = Annotated[Principal, Depends(Allowed("inspect"))]


@router.get("/plans/today", response_model=DayPlan, dependencies=[HEAVY_IF_CITY])
def today(
    engine: EngineDep,
    rules: RulesDep,
    user: InspectorDep,
    scope: ScopeDep,
    day: Day = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PLAN, description="stops of a new plan; a stored plan keeps its own")
    ] = plans.DEFAULT_STOPS,
) -> DayPlan:
    """The caller's plan for the day: made from the due list when first opened, then read back unchanged.

    Every phone of the same account sees the same plan. A stop whose target was inspected that day (by anyone)
    is ``done`` and keeps its number. Islands are planned apart (``groups``, ``notice``).
    """
    return plans.today(engine, rules, user, day or today_local(), scope, limit)


@router.post("/plans/today/replan", response_model=DayPlan)
def replan(body: ReplanIn, engine: EngineDep, rules: RulesDep, user: InspectorDep) -> DayPlan:
    """Plan the stops still to visit again from ``position`` ("从这里重新规划"): the only time numbers change.

    Only the land part the position lies on is planned again; done stops keep their numbers.
    """
    scope = features.scope_for(engine, user, body.district)
    lon, lat = to_wgs84(body.position.lon, body.position.lat, body.position.datum)
    return plans.replan(engine, rules, user, body.date or today_local(), scope, (float(lon), float(lat)))


@router.get("/checklists", response_model=Checklists)
def checklists(rules: RulesDep, user: UserDep) -> Checklists:
    """What the visit form offers to tick per premises category and for water zones (from the rule file)."""
    return plans.checklists(rules)

"""Programme statistics and the schools' security-compliance layer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from geo_safety.api.deps import EngineDep, UserDep, get_rules
from geo_safety.ruleset import RuleSet
from geo_safety.services import features, reports

router = APIRouter(prefix="/api/v1", tags=["reports"])
District = Annotated[str | None, Query(pattern=r"^\d{6}$")]


@router.get("/reports/programme")
def programme(
    engine: EngineDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    user: UserDep,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
    district: District = None,
) -> dict[str, Any]:
    """Per district and in total: inspections, violations, re-checks, unguarded zones, compliance, students."""
    features.check_district(engine, district)
    return reports.programme(engine, rules, date_from, date_to, user.scope(district))


@router.get("/schools/compliance")
def compliance(engine: EngineDep, user: UserDep, district: District = None) -> dict[str, Any]:
    """Schools lacking any of: full-time guards, closed campus, alarm linked to police, video linked to police."""
    features.check_district(engine, district)
    return reports.compliance(engine, user.scope(district))

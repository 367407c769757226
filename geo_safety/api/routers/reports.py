"""Programme statistics and the schools' security-compliance layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from geo_safety.api.deps import EngineDep, ScopeDep, get_rules
from geo_safety.api.limits import HEAVY
from geo_safety.api.params import SaneDate
from geo_safety.ruleset import RuleSet
from geo_safety.services import reports

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports/programme", dependencies=[HEAVY])
def programme(
    engine: EngineDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    scope: ScopeDep,
    date_from: Annotated[SaneDate, Query(alias="from")],
    date_to: Annotated[SaneDate, Query(alias="to")],
) -> dict[str, Any]:
    """Per district and in total: inspections, violations, re-checks, unguarded zones, compliance, students."""
    return reports.programme(engine, rules, date_from, date_to, scope)


@router.get("/schools/compliance")
def compliance(engine: EngineDep, scope: ScopeDep) -> dict[str, Any]:
    """Schools lacking any of: full-time guards, closed campus, alarm linked to police, video linked to police."""
    return reports.compliance(engine, scope)

"""Map pages for the browser (session cookie or bearer token; anonymous callers go to /login)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from geo_safety.api.deps import EngineDep, SettingsDep, get_rules, page_user
from geo_safety.api.limits import HEAVY_PAGE, HEAVY_PAGE_IF_WIDE_RADIUS
from geo_safety.api.pages import map_response
from geo_safety.api.params import Day
from geo_safety.errors import Forbidden
from geo_safety.rules import today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import cache, features
from geo_safety.services.maps import (
    district_map_html,
    hazard_map_html,
    hotspots_map_html,
    overview_map_html,
    today_map_html,
)
from geo_safety.services.users import Principal
from geo_safety.settings import Settings

router = APIRouter(prefix="/maps", tags=["maps"])


@dataclass(frozen=True)
class MapPage:
    """What every map page needs: the database, settings, rules, who is asking, the date and their districts."""

    engine: Engine
    settings: Settings
    rules: RuleSet
    user: Principal
    day: date
    scope: tuple[str, ...] | None


def map_page(
    engine: EngineDep,
    settings: SettingsDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    user: Annotated[Principal, Depends(page_user)],
    day: Day = None,
    district: Annotated[str | None, Query(pattern=r"^\d{6}$", description="district code (adcode)")] = None,
) -> MapPage:
    return MapPage(engine, settings, rules, user, day or today_local(), features.scope_for(engine, user, district))


PageDep = Annotated[MapPage, Depends(map_page)]


@router.get("/inspection/today", response_class=HTMLResponse)
def inspection_today(page: PageDep, limit: Annotated[int, Query(ge=1, le=50)] = 20) -> HTMLResponse:
    """Today's inspection map to print or share: the day plan the phone app shows (an inspector's own), rule
    buffers, the other due premises by reason, islands planned apart."""
    owner = page.user.id if page.user.may("inspect") else None  # an inspector's plan is their own
    key = ("today-map", id(page.rules), id(page.settings), page.day, page.scope, limit, owner)
    rendered = cache.cached(
        page.engine,
        key,
        lambda: today_map_html(
            page.engine, page.rules, page.settings, page.day, page.scope, user=page.user, limit=limit
        ),
        districts=page.scope,
    )
    return map_response(rendered)


@router.get("/hazards", response_class=HTMLResponse)
def hazards_editor(page: PageDep) -> HTMLResponse:
    """Planners draw and edit water zones here (others see them read-only)."""
    return map_response(
        hazard_map_html(page.engine, page.rules, page.settings, page.day, page.scope, page.user.may("edit_hazards"))
    )


@router.get("/hotspots/drowning", response_class=HTMLResponse, dependencies=[HEAVY_PAGE_IF_WIDE_RADIUS])
def drowning_hotspots(page: PageDep, radius_m: Annotated[float | None, Query(gt=0, le=5000)] = None) -> HTMLResponse:
    """Hotspots coloured by risk, schools with their radius rings, popups with what is missing and whom to call."""
    return map_response(hotspots_map_html(page.engine, page.rules, page.settings, page.day, page.scope, radius_m))


@router.get("/districts", response_class=HTMLResponse, dependencies=[HEAVY_PAGE])
def city_overview(page: PageDep) -> HTMLResponse:
    """The city: districts shaded by unguarded hotspots per 10,000 students and by overdue premises."""
    if page.user.districts is not None:
        raise Forbidden("the city overview is for accounts that cover the whole city")
    return map_response(overview_map_html(page.engine, page.rules, page.settings, page.day))


@router.get("/districts/{code}", response_class=HTMLResponse)
def district_page(code: Annotated[str, Path(pattern=r"^\d{6}$")], page: PageDep) -> HTMLResponse:
    """A district's hotspot map with its summary panel (as `geo-safety map districts` writes it)."""
    features.scope_for(page.engine, page.user, code)
    return map_response(district_map_html(page.engine, page.rules, page.settings, page.day, code))

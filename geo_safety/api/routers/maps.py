"""Map pages for the browser (session cookie or bearer token; anonymous callers go to /login), and the data
they load for the part of the map in view (JSON; the same session or token, role and district scope as the
API: anonymous 401, a district outside the account 403, an unknown one 404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from geo_safety.api.deps import EngineDep, SettingsDep, UserDep, get_rules, page_user
from geo_safety.api.limits import HEAVY_PAGE, HEAVY_PAGE_IF_WIDE_RADIUS
from geo_safety.api.pages import map_response
from geo_safety.api.params import Day
from geo_safety.api.schemas_maps import DistrictSummary, MapView
from geo_safety.errors import Forbidden, InvalidInput
from geo_safety.maps import viewdata
from geo_safety.maps.render import summary_json
from geo_safety.rules import today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import cache, features
from geo_safety.services.maps import (
    district_page_html,
    district_summary,
    district_view_data,
    hazard_map_html,
    hotspots_map_html,
    overview_map_html,
    today_map_html,
    today_view_data,
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
    district: str | None = None


DistrictParam = Annotated[str | None, Query(pattern=r"^\d{6}$", description="district code (adcode)")]


def map_page(
    engine: EngineDep,
    settings: SettingsDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    user: Annotated[Principal, Depends(page_user)],
    day: Day = None,
    district: DistrictParam = None,
) -> MapPage:
    scope = features.scope_for(engine, user, district)
    return MapPage(engine, settings, rules, user, day or today_local(), scope, district)


def map_data(
    engine: EngineDep,
    settings: SettingsDep,
    rules: Annotated[RuleSet, Depends(get_rules)],
    user: UserDep,
    day: Day = None,
    district: DistrictParam = None,
) -> MapPage:
    """As ``map_page`` for the JSON a page loads: the API's authentication (401 JSON, no redirect)."""
    scope = features.scope_for(engine, user, district)
    return MapPage(engine, settings, rules, user, day or today_local(), scope, district)


PageDep = Annotated[MapPage, Depends(map_page)]
DataDep = Annotated[MapPage, Depends(map_data)]
BBoxParam = Annotated[
    str | None,
    Query(
        max_length=120,
        description="west,south,east,north (WGS84 degrees) of the view; omitted: the whole map",
        examples=["109.05,21.40,109.35,21.60"],
    ),
]
ZoomParam = Annotated[int | None, Query(ge=0, le=22, description="the map's zoom (layers have a minimum)")]


def _bbox(value: str | None) -> viewdata.BBox | None:
    try:
        return viewdata.parse_bbox(value)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def _query(**params: object) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None})


@router.get("/inspection/today", response_class=HTMLResponse)
def inspection_today(page: PageDep, limit: Annotated[int, Query(ge=1, le=50)] = 20) -> HTMLResponse:
    """Today's inspection map to print or share: the day plan the phone app shows (an inspector's own), rule
    buffers, the other due premises by reason, islands planned apart."""
    owner = page.user.id if page.user.may("inspect") else None  # an inspector's plan is their own
    data_url = "/maps/inspection/today/data?" + _query(date=page.day, district=page.district, limit=limit)
    key = ("today-map", id(page.rules), id(page.settings), page.day, page.scope, limit, owner, data_url)
    rendered = cache.cached(
        page.engine,
        key,
        lambda: today_map_html(
            page.engine,
            page.rules,
            page.settings,
            page.day,
            page.scope,
            user=page.user,
            limit=limit,
            data_url=data_url,
        ),
        districts=page.scope,
    )
    return map_response(rendered)


@router.get("/inspection/today/data", response_model=MapView)
def inspection_today_data(
    page: DataDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    bbox: BBoxParam = None,
    zoom: ZoomParam = None,
) -> dict[str, Any]:
    """The day map's rings, school gates and other due premises in the view (at most a cap per layer, the most
    urgent first), with the legend of what is sent; the numbered stops are in the page itself."""
    return today_view_data(
        page.engine, page.rules, page.day, page.scope, _bbox(bbox), zoom, user=page.user, limit=limit
    )


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
    query = "?" + _query(date=page.day)
    return map_response(
        district_page_html(
            page.engine,
            page.rules,
            page.settings,
            page.day,
            code,
            data_url=f"/maps/districts/{code}/data{query}",
            summary_url=f"/maps/districts/{code}/summary{query}",
        )
    )


CodePath = Annotated[str, Path(pattern=r"^\d{6}$")]


@router.get("/districts/{code}/data", response_model=MapView)
def district_data_view(code: CodePath, page: DataDep, bbox: BBoxParam = None, zoom: ZoomParam = None) -> dict[str, Any]:
    """A district map's hotspots (outlines from zoom 13), heat, premises and schools in the view, with the
    legend of what is sent; risk classes are the terciles of the whole district's hotspots."""
    features.scope_for(page.engine, page.user, code)
    return district_view_data(page.engine, page.rules, page.day, code, _bbox(bbox), zoom)


@router.get("/districts/{code}/summary", response_model=DistrictSummary)
def district_summary_view(code: CodePath, page: DataDep) -> dict[str, Any]:
    """The counts of a district map's panel on the date."""
    features.scope_for(page.engine, page.user, code)
    return summary_json(district_summary(page.engine, page.rules, page.day, code))

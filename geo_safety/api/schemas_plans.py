"""Bodies of the day-plan and checklist routes: the requests here, the answers from :mod:`geo_safety.shapes.plans`
(where the planner builds them), so the OpenAPI document shows the phone app what it gets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from geo_safety.api.params import SaneDate
from geo_safety.crs import Datum
from geo_safety.shapes.plans import (
    ChecklistCategory,
    Checklists,
    DayPlan,
    Group,
    Measure,
    MeasureSpec,
    MultiLineString,
    NavLinks,
    ResultChoice,
    Stop,
    Visit,
    ZoneChecklist,
)

__all__ = [
    "ChecklistCategory",
    "Checklists",
    "DayPlan",
    "Group",
    "Measure",
    "MeasureSpec",
    "MultiLineString",
    "NavLinks",
    "PositionIn",
    "ReplanIn",
    "ResultChoice",
    "Stop",
    "Visit",
    "ZoneChecklist",
]


class PositionIn(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    datum: Literal[Datum.WGS84, Datum.GCJ02, Datum.BD09] = Field(
        Datum.WGS84, description="wgs84 for phone GPS; gcj02 for AMap/Tencent/WeChat; bd09 for Baidu"
    )


class ReplanIn(BaseModel):
    date: SaneDate | None = Field(None, description="default: today in Asia/Shanghai")
    district: str | None = Field(None, pattern=r"^\d{6}$", description="district code (adcode) of the plan")
    position: PositionIn = Field(description="where the inspector stands; the remaining stops are planned from here")

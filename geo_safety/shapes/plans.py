"""The day plan and the visit form's checklists as the planner builds them and the phone app gets them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NavLinks(BaseModel):
    """Open the stop in a map app, the position converted to that app's datum."""

    amap: str = Field(description="高德 AMap (GCJ-02)")
    tencent: str = Field(description="腾讯地图 (GCJ-02)")
    baidu: str = Field(description="百度地图 app, baidumap:// (BD-09)")
    baidu_web: str = Field(description="百度地图 web page (BD-09)")
    geo: str = Field(description="geo: URI (WGS84) for any other map app")


class Visit(BaseModel):
    """That day's latest inspection of the stop's target (by anyone)."""

    id: int
    result: Literal["pass", "fail", "closed", "not_found"]
    inspected_at: str
    inspector: str | None


class Measure(BaseModel):
    key: str = Field(description="water_hazards column; send it in the visit's measures")
    label: str
    required: bool = Field(description="the zone counts as unguarded without it")
    present: bool | None = Field(description="as last recorded (null: the zone no longer exists)")


class Stop(BaseModel):
    order: int = Field(description="the stop's number; changes only when the inspector plans again")
    group: str = Field(description="key of the land part (groups[].key)")
    target_type: Literal["premise", "water_hazard"]
    target_id: str
    name: str
    category: str | None = Field(description="premises category, or a water zone's kind")
    category_cn: str | None
    reason: str | None = Field(description="why it was due when planned: failed_recheck, never_inspected, overdue")
    reason_cn: str | None
    violation: bool
    priority: int | None = Field(description="rank in the due list when planned")
    nearest_school_id: str | None
    nearest_school_name: str | None
    distance_m: float | None
    rule_distance_m: float | None
    last_inspected_on: str | None
    days_overdue: int | None
    address: str | None
    district_code: str | None
    lon: float = Field(description="WGS84")
    lat: float = Field(description="WGS84")
    phone: str | None = Field(description="whom to call: a water zone's phone (premises keep none)")
    tel: str | None = Field(description="tel: link of the phone")
    responsible_person: str | None
    responsible_unit: str | None
    checklist: list[str] = Field(description="findings to tick, from the rule file")
    measures: list[Measure] | None = Field(description="water zones: the guard measures to check")
    follow_up_days: int = Field(description="default days to the follow-up of a failed visit")
    nav: NavLinks
    status: Literal["pending", "done"]
    visit: Visit | None
    gone: bool = Field(description="the target no longer exists (deleted zone or premise)")


class Group(BaseModel):
    """A land part planned on its own: its own block of numbers and its own route line."""

    key: str = Field(description="mainland, weizhou, xieyang, island-N")
    name: str = Field(description="大陆, 涠洲岛, 斜阳岛, 海岛 N")
    mainland: bool
    stops: int
    done: int
    first_order: int
    last_order: int
    start: list[float] | None = Field(description="WGS84 position the part was last planned from (null: none)")
    planned_at: str | None
    route_length_m: float


class MultiLineString(BaseModel):
    type: Literal["MultiLineString"]
    coordinates: list[list[list[float]]] = Field(description="one line per land part, never joining two")


class DayPlan(BaseModel):
    date: str
    districts: list[str] | None = Field(description="scope of the plan (null: the whole city)")
    created_at: str
    updated_at: str
    total: int
    done: int
    pending: int
    next_order: int | None = Field(description="the lowest number still to visit")
    notice: str | None = Field(description="为何分组规划等说明 (Chinese)")
    groups: list[Group]
    stops: list[Stop]
    route: MultiLineString
    route_length_m: float
    replanned_group: str | None = Field(None, description="replan only: the part planned again (null: none)")


class ChecklistCategory(BaseModel):
    category: str
    category_cn: str
    items: list[str]


class MeasureSpec(BaseModel):
    key: str
    label: str
    required_for: Literal["all", "fence_kinds", "none"]


class ZoneChecklist(BaseModel):
    items: list[str]
    measures: list[MeasureSpec]
    fence_kinds: list[str]


class ResultChoice(BaseModel):
    key: Literal["pass", "fail", "closed", "not_found"]
    label: str


class Checklists(BaseModel):
    premises: list[ChecklistCategory]
    water_hazard: ZoneChecklist
    follow_up_days: int
    results: list[ResultChoice]

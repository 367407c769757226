"""Colours, labels and legend entries: data, shared by every map."""

from __future__ import annotations

from typing import TypedDict

CATEGORY_CN = {
    "internet_cafe": "网吧",
    "entertainment": "娱乐场所",
    "game_arcade": "电子游艺厅",
    "tobacco": "烟草销售",
    "alcohol": "酒类销售",
    "lottery": "彩票销售",
    "food_vendor": "食品摊点",
    "convenience_store": "便利店",
    "hotel": "宾馆旅店",
    "other": "其他",
}
SCHOOL_KIND_CN = {
    "kindergarten": "幼儿园",
    "primary": "小学",
    "junior": "初中",
    "senior": "高中",
    "nine_year": "九年一贯制",
    "twelve_year": "十二年一贯制",
    "vocational": "职业学校",
    "special": "特殊教育",
}
REASON_CN = {
    "failed_recheck": "整改复查到期",
    "never_inspected": "从未检查",
    "overdue": "超期未查",
}
REASON_COLOUR = {"failed_recheck": "#c0392b", "never_inspected": "#e67e22", "overdue": "#d4ac0d"}
VIOLATION_COLOUR = "#5b2c6f"
ROUTE_COLOUR = "#1f5fbf"
#: a visited stop by today's result: pass, fail, closed or not found (as on the phone)
RESULT_COLOUR = {"pass": "#1e8449", "fail": "#b9770e", "closed": "#7f8c8d", "not_found": "#7f8c8d"}
SCHOOL_COLOUR = "#2471a3"
BUFFER_COLOURS = {50.0: "#8e44ad", 100.0: "#16a085", 200.0: "#2e86c1"}


class LineStyle(TypedDict):
    """A Leaflet path style for outlines (the keys are Leaflet's option names)."""

    color: str
    weight: int
    fill: bool
    dashArray: str


DISTRICT_STYLE: LineStyle = {"color": "#34495e", "weight": 2, "fill": False, "dashArray": "6 4"}


def buffer_colour(distance_m: float) -> str:
    return BUFFER_COLOURS.get(float(distance_m), "#7f8c8d")


MISSING_CN = {
    "warning_sign": "警示牌",
    "lifebuoy": "救生圈",
    "rescue_rope": "救生绳",
    "rescue_pole": "救生杆",
    "fence": "围栏",
    "responsible_person": "责任人",
    "patrol": "巡查",
}
HAZARD_KIND_CN = {
    "reservoir": "水库",
    "pond": "池塘",
    "river": "河流",
    "canal": "水渠",
    "coast": "海岸",
    "beach": "海滩",
    "pit": "坑塘",
    "other": "其他水域",
}
#: named risk classes, lowest to highest (tercile breaks of each map's own risk scores)
RISK_CLASSES = (("低", "#fecc5c"), ("中", "#fd8d3c"), ("高", "#bd0026"))
RISK_COLOURS = tuple(colour for _, colour in RISK_CLASSES)
HOTSPOT_EDGE = "#4a0010"
#: the heat layer's colour ramp (weight 0..1), drawn in the legend as the same gradient
HEAT_GRADIENT = {0.3: "#fecc5c", 0.65: "#fd8d3c", 1.0: "#bd0026"}
DUE_EDGE = "#ffffff"
NO_REASON_COLOUR = "#95a5a6"  # a violating premise that is not due
#: schools by how many of the four security items they lack: none, one, several
SCHOOL_COMPLIANCE = (("四项达标", "#1e8449"), ("缺一项", "#d68910"), ("缺多项", "#922b21"))
#: the city overview's shades, lightest first
OVERVIEW_SHADES = ("#fee6ce", "#fdae6b", "#f16913", "#a63603")
#: islands named on the district maps: name -> a point on it (WGS84)
ISLANDS = {"涠洲岛": (109.115, 21.045), "斜阳岛": (109.214, 20.908)}

"""Hand-checked water zones around the inspection world's schools (see inspection_world).

Each zone is a thin wedge whose tip lies at a chosen geodesic distance and bearing from a school and whose
other corners lie 30 m further out, so the tip is the zone's nearest point to that school.
"""

from __future__ import annotations

import json
from datetime import date

import geopandas as gpd
import shapely

from tests.inspection_world import GATE_A, GATE_C, at

ALL_YEAR_EVERY_DAY = [
    {
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
        "holidays": True,
        "patroller": "全天巡查员",
    }
]
WEEKENDS_ONLY = [
    {
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "weekdays": [6, 7],
        "holidays": False,
        "patroller": "周末巡查员",
    }
]
ONE_WEEKEND = [
    {
        "valid_from": "2026-11-28",
        "valid_to": "2026-11-29",
        "weekdays": [6, 7],
        "holidays": False,
        "patroller": "临时巡查员",
    }
]
ALL = {"warning_sign": True, "lifebuoy": True, "rescue_rope": True, "rescue_pole": True, "fence": True}
NONE = dict.fromkeys(ALL, False)


def wedge(origin: tuple[float, float], bearing: float, metres: float) -> shapely.Polygon:
    tip = at(origin, bearing, metres)
    left = at(origin, bearing - 4, metres + 30)
    right = at(origin, bearing + 4, metres + 30)
    return shapely.Polygon([tip, left, right, tip])


# id: (kind, school origin, bearing, distance_m, measures, responsible person, patrols)
ZONES = {
    "Z1": ("pond", GATE_A, 315, 300, ALL, "张一", ALL_YEAR_EVERY_DAY),  # guarded on every day
    "Z2": ("pond", GATE_A, 270, 400, {**ALL, "lifebuoy": False, "fence": False}, "张二", ALL_YEAR_EVERY_DAY),
    "Z3": ("reservoir", GATE_A, 0, 600, ALL, "张三", WEEKENDS_ONLY),
    "Z4": ("pond", GATE_A, 135, 500, ALL, "张四", ONE_WEEKEND),
    "Z5": ("pit", GATE_C, 180, 200, ALL, None, []),  # nobody in charge
    "Z6": ("pond", GATE_A, 225, 999, NONE, None, []),  # just inside 1000 m
    "Z7": ("pond", GATE_A, 230, 1001, NONE, None, []),  # just outside 1000 m
}

SCHOOL_DAY = date(2026, 11, 26)  # Thursday in term time
HOLIDAY = date(2026, 10, 2)  # National Day, a Friday
SUMMER = date(2026, 7, 20)  # Monday in the summer vacation

# expected hotspots: (id, missing, schools_within, students_within, risk_score) — computed by hand:
#   risk = Σ students × (1 − d/1000) × kind weight × (1 + 0.25 × len(missing))
EXPECTED_SCHOOL_DAY = [
    ("Z5", ["responsible_person"], 1, 1200, 1200 * 0.8 * 1.5 * 1.25),  # 1800.0
    ("Z2", ["lifebuoy", "fence"], 1, 800, 800 * 0.6 * 1.2 * 1.5),  # 864.0
    (
        "Z6",
        ["warning_sign", "lifebuoy", "rescue_rope", "rescue_pole", "fence", "responsible_person"],
        1,
        800,
        800 * 0.001 * 1.2 * 2.5,
    ),  # 2.4
]
EXPECTED_HOLIDAY_SCORES = {
    "Z5": 1200 * 0.8 * 1.5 * 1.5,  # + patrol: 2160.0
    "Z3": 800 * 0.4 * 1.0 * 1.25,  # patrol only: 400.0
    "Z2": 800 * 0.6 * 1.2 * 1.5,  # its patrol covers holidays: 864.0
    "Z6": 800 * 0.001 * 1.2 * 2.75,  # 2.64
}


def zones_frame() -> gpd.GeoDataFrame:
    rows, geoms = [], []
    for zid, (kind, origin, bearing, metres, measures, person, patrols) in ZONES.items():
        rows.append(
            {
                "id": zid,
                "name": f"水域{zid}",
                "kind": kind,
                "responsible_person": person,
                "phone": "0779-0000000" if person else None,
                "patrols": json.dumps(patrols, ensure_ascii=False),
                **measures,
            }
        )
        geoms.append(wedge(origin, bearing, metres))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)

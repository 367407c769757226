"""The hand-checked fixture world of the inspection tests (合浦县 廉州镇, WGS84).

Every premise is placed at a chosen geodesic distance and bearing from a school (pyproj's ``Geod.fwd``), so
each answer below is known by construction, not by running the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from geo_safety.crs import geodesic_destination

D = date(2026, 11, 20)
GATE_A = (109.2000, 21.6600)  # primary school, gate only
GATE_K = (109.2100, 21.6600)  # kindergarten, gate only
GATE_C = (109.2200, 21.6595)  # junior school whose campus is the square below; gate on its south edge
CAMPUS_C = shapely.box(109.2195, 21.6595, 109.2205, 21.6605)


def at(origin: tuple[float, float], azimuth: float, metres: float) -> tuple[float, float]:
    lon, lat = geodesic_destination(origin[0], origin[1], azimuth, metres)
    return float(lon), float(lat)


# id: (category, position, status)
PREMISES = {
    "P1": ("internet_cafe", at(GATE_A, 0, 199.6), "open"),  # just inside 200 m: never inspected, violation
    "P2": ("internet_cafe", at(GATE_A, 270, 200.4), "open"),  # just outside 200 m
    "P3": ("internet_cafe", at(GATE_K, 0, 150), "open"),  # near a kindergarten only: no internet-café rule there
    "P4": ("entertainment", at(GATE_K, 0, 90), "open"),  # kindergarten 100 m: in; overdue by 10 days
    "P5": ("entertainment", at(GATE_K, 180, 110), "open"),  # kindergarten 100 m: out
    "P6": ("tobacco", (109.2199, 21.6601), "open"),  # inside campus C: 0 m; failed 10 days ago -> re-check due
    "P7": ("hotel", at((109.2200, 21.6605), 0, 180), "open"),  # 180 m from campus C, ~290 m from its gate
    "P8": ("food_vendor", at(GATE_A, 90, 100), "closed"),  # closed premises leave scope
    "P9": ("convenience_store", at(GATE_A, 180, 60), "open"),  # last inspection said 'closed'
    "P10": ("food_vendor", at(GATE_A, 135, 120), "open"),  # inspected 10 days ago: not due yet
    "P11": ("food_vendor", at(GATE_A, 225, 130), "open"),  # overdue by 5; a visit after D is ignored
    "P12": ("lottery", at(GATE_A, 45, 45), "open"),  # failed 3 days ago, follow-up D+4: not yet due
}

# (premise, days relative to D, result, follow_up_due relative to D or None)
LEDGER = [
    ("P4", -40, "pass", None),
    ("P6", -10, "fail", None),
    ("P7", -100, "pass", None),
    ("P9", -5, "closed", None),
    ("P10", -10, "pass", None),
    ("P11", -35, "pass", None),
    ("P11", 2, "pass", None),
    ("P12", -3, "fail", 4),
]

# expected due list on D, in priority order: (id, reason, violation, days_overdue, rule_distance_m, school)
EXPECTED_DUE = [
    ("P6", "failed_recheck", True, 3, 50.0, "SC"),
    ("P1", "never_inspected", True, None, 200.0, "SA"),
    ("P4", "overdue", True, 10, 100.0, "SK"),
    ("P7", "overdue", False, 10, 200.0, "SC"),
    ("P11", "overdue", False, 5, 200.0, "SA"),
]


def write_world(folder: Path) -> dict[str, Path]:
    schools = gpd.GeoDataFrame(
        {
            "id": ["SA", "SK", "SC"],
            "name": ["甲小学", "乙幼儿园", "丙中学"],
            "kind": ["primary", "kindergarten", "junior"],
            "students": [800, 200, 1200],
        },
        geometry=[shapely.Point(GATE_A), shapely.Point(GATE_K), shapely.Point(GATE_C)],
        crs=4326,
    )
    campus = gpd.GeoDataFrame({"id": ["SC"]}, geometry=[CAMPUS_C], crs=4326)
    premises = gpd.GeoDataFrame(
        {
            "id": list(PREMISES),
            "name": [f"场所{k}" for k in PREMISES],
            "category": [v[0] for v in PREMISES.values()],
            "status": [v[2] for v in PREMISES.values()],
        },
        geometry=[shapely.Point(v[1]) for v in PREMISES.values()],
        crs=4326,
    )
    ledger = pd.DataFrame(
        {
            "target_id": [r[0] for r in LEDGER],
            "inspected_at": [f"{D + timedelta(days=r[1])}T10:00:00+08:00" for r in LEDGER],
            "result": [r[2] for r in LEDGER],
            "follow_up_due": [(D + timedelta(days=r[3])).isoformat() if r[3] is not None else None for r in LEDGER],
        }
    )
    paths = {
        "schools": folder / "schools.geojson",
        "school_campuses": folder / "campus.geojson",
        "premises": folder / "premises.geojson",
        "inspections": folder / "ledger.csv",
    }
    schools.to_file(paths["schools"], driver="GeoJSON")
    campus.to_file(paths["school_campuses"], driver="GeoJSON")
    premises.to_file(paths["premises"], driver="GeoJSON")
    ledger.to_csv(paths["inspections"], index=False)
    return paths

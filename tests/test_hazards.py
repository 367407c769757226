"""Water zones: key periods, guard state, hotspots with hand-computed risk, CRUD with versions and history."""

from __future__ import annotations

import tempfile
import threading
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import crs
from geo_safety.keyperiods import load_calendar
from geo_safety.rules import today_local
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.hazard_world import (
    EXPECTED_HOLIDAY_SCORES,
    EXPECTED_SCHOOL_DAY,
    HOLIDAY,
    SCHOOL_DAY,
    SUMMER,
    wedge,
    zones_frame,
)
from tests.inspection_world import GATE_A, write_world
from tests.world import write

SETUP = Actor("test-setup", "pytest")


@pytest.fixture
def world(beihai: Engine, settings: Settings, tmp_path: Path) -> dict[str, str]:
    paths = write_world(tmp_path)
    for layer in ("schools", "school_campuses"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    load_file(beihai, "water_hazards", write(zones_frame(), tmp_path / "zones.geojson"), datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions, water_hazard_history RESTART IDENTITY CASCADE"))
    accounts = (
        ("planner", "planner", ()),
        ("planner_tsg", "planner", ("450512",)),
        ("viewer", "viewer", ()),
        ("hepu", "inspector", ("450521",)),
        ("haicheng", "inspector", ("450502",)),
    )
    return {name: users.add_user(beihai, settings, SETUP, name, role, d).token for name, role, d in accounts}


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def hotspots(client: TestClient, token: str, day: date, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in {"date": day, **params}.items())
    response = client.get(f"/api/v1/hotspots/drowning?{query}", headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


# -- key periods ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 26), None),  # Thursday in term
        (date(2026, 11, 28), "weekend"),
        (date(2026, 10, 2), "holiday"),  # National Day
        (date(2026, 2, 17), "holiday"),  # Spring Festival
        (date(2026, 7, 10), "summer_vacation"),  # first day
        (date(2026, 8, 31), "summer_vacation"),  # last day
        (date(2026, 9, 1), None),  # term starts (a Tuesday)
        (date(2026, 7, 9), None),  # the Thursday before
        (date(2026, 2, 2), "winter_vacation"),
        (date(2026, 10, 10), None),  # a Saturday made a working day (调休)
    ],
)
def test_key_periods(day: date, expected: str | None) -> None:
    assert load_calendar().key_period(day) == expected


# -- guard state and hotspots ---------------------------------------------------------------------------
def test_hotspots_on_a_school_day_match_the_hand_computed_answer(world, client: TestClient) -> None:
    body = hotspots(client, world["viewer"], SCHOOL_DAY)
    assert body["key_period"] is None and body["radius_m"] == 1000
    got = [
        (f["id"], f["properties"]["missing"], f["properties"]["schools_within"], f["properties"]["students_within"])
        for f in body["features"]
    ]
    assert got == [(e[0], e[1], e[2], e[3]) for e in EXPECTED_SCHOOL_DAY]
    for feature, expected in zip(body["features"], EXPECTED_SCHOOL_DAY, strict=True):
        assert feature["properties"]["risk_score"] == pytest.approx(expected[4], abs=0.01)
    z2 = body["features"][1]["properties"]
    assert z2["distance_m"] == pytest.approx(400, abs=0.5) and z2["nearest_school_id"] == "SA"
    assert z2["responsible_person"] == "张二" and z2["phone"] == "0779-0000000"


def test_hotspots_in_key_periods_need_patrols(world, client: TestClient) -> None:
    body = hotspots(client, world["viewer"], HOLIDAY)
    scores = {f["id"]: f["properties"]["risk_score"] for f in body["features"]}
    missing = {f["id"]: f["properties"]["missing"] for f in body["features"]}
    assert body["key_period"] == "holiday"
    for zid, expected in EXPECTED_HOLIDAY_SCORES.items():
        assert scores[zid] == pytest.approx(expected, abs=0.01)
    assert missing["Z3"] == ["patrol"] and missing["Z5"] == ["responsible_person", "patrol"]
    assert "Z4" in missing and "Z1" not in missing and "Z7" not in missing
    summer = {f["id"] for f in hotspots(client, world["viewer"], SUMMER)["features"]}
    assert "Z3" in summer  # a Monday in the vacation: the weekend patrol does not cover it


@pytest.mark.parametrize(
    ("day", "z3", "z4"),
    [
        (date(2026, 11, 28), False, False),  # Saturday: both patrols on duty (Z4's first day)
        (date(2026, 11, 29), False, False),  # Sunday: Z4's last day
        (date(2026, 12, 5), False, True),  # Saturday after Z4's patrol ended
        (date(2027, 1, 2), True, True),  # after both patrols' valid_to
    ],
)
def test_patrol_date_edges(world, client: TestClient, day: date, z3: bool, z4: bool) -> None:
    ids = {f["id"] for f in hotspots(client, world["viewer"], day)["features"]}
    assert ("Z3" in ids, "Z4" in ids) == (z3, z4)


def test_radius_parameter(world, client: TestClient) -> None:
    body = hotspots(client, world["viewer"], SCHOOL_DAY, radius_m=500)
    scores = {f["id"]: f["properties"]["risk_score"] for f in body["features"]}
    assert scores == pytest.approx({"Z5": 1200 * 0.6 * 1.5 * 1.25, "Z2": 800 * 0.2 * 1.2 * 1.5}, abs=0.01)


def test_inspectors_see_hotspots_of_their_districts_only(world, client: TestClient) -> None:
    assert hotspots(client, world["haicheng"], SCHOOL_DAY)["features"] == []
    assert len(hotspots(client, world["hepu"], SCHOOL_DAY)["features"]) == 3


def test_zones_near_schools_join_the_due_list(world, client: TestClient, beihai: Engine, tmp_path: Path) -> None:
    def due_zones(day: date) -> dict[str, tuple[str, int | None]]:
        body = client.get(f"/api/v1/inspections/due?date={day}", headers=auth(world["hepu"])).json()
        return {
            f["id"]: (f["properties"]["reason"], f["properties"]["days_overdue"])
            for f in body["features"]
            if f["properties"]["target_type"] == "water_hazard"
        }

    assert due_zones(SCHOOL_DAY) == dict.fromkeys(["Z1", "Z2", "Z3", "Z4", "Z5", "Z6"], ("never_inspected", None))
    ledger = pd.DataFrame(
        {
            "target_id": ["Z2"],
            "target_type": ["water_hazard"],
            "inspected_at": [f"{SCHOOL_DAY - timedelta(days=10)}T09:00:00+08:00"],
            "result": ["pass"],
        }
    )
    ledger.to_csv(tmp_path / "checks.csv", index=False)
    load_file(beihai, "inspections", tmp_path / "checks.csv", datum="wgs84")
    assert "Z2" not in due_zones(SCHOOL_DAY)  # checked 10 days ago; 30 days outside key periods
    weekend = SCHOOL_DAY + timedelta(days=2)  # Saturday: 7 days in a key period
    assert due_zones(weekend)["Z2"] == ("overdue", 12 - 7)


def test_a_zone_check_can_record_measures(world, client: TestClient, beihai: Engine) -> None:
    response = client.post(
        "/api/v1/inspections",
        headers=auth(world["hepu"]),
        json={
            "target_type": "water_hazard",
            "target_id": "Z2",
            "result": "pass",
            "measures": {"lifebuoy": True, "fence": True},
        },
    )
    assert response.status_code == 201, response.text
    assert "Z2" not in {f["id"] for f in hotspots(client, world["viewer"], SCHOOL_DAY)["features"]}
    history = client.get("/api/v1/hazards/Z2/history", headers=auth(world["viewer"])).json()
    assert [(h["version"], h["action"], h["actor"]) for h in history][-1] == (2, "update", "hepu")
    assert history[-1]["changed"] == ["fence", "lifebuoy"]


# -- CRUD ---------------------------------------------------------------------------------------------------
def _new_zone(bearing: float = 300, metres: float = 700, **props) -> dict:
    geom = wedge(GATE_A, bearing, metres)
    return {
        "type": "Feature",
        "datum": "wgs84",
        "geometry": shapely.geometry.mapping(geom),
        "properties": {"name": "新池塘", "kind": "pond", "responsible_person": "王五", **props},
    }


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM water_hazards")).scalar_one()


def test_create_in_gcj02_is_stored_in_wgs84(world, client: TestClient, beihai: Engine) -> None:
    true_geom = wedge(GATE_A, 300, 700)
    gcj = shapely.transform(true_geom, lambda xy: np.column_stack(crs.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    body = {**_new_zone(), "datum": "gcj02", "geometry": shapely.geometry.mapping(gcj)}
    response = client.post("/api/v1/hazards", headers=auth(world["planner"]), json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["etag"] == '"1"' and created["properties"]["district_code"] == "450521"
    stored = shapely.geometry.shape(created["geometry"])
    tip = shapely.get_coordinates(stored)[0]
    expected = shapely.get_coordinates(true_geom)[0]
    assert crs.geodesic_distance_m(*tip, *expected) < 0.5
    expected_missing = ["warning_sign", "lifebuoy", "rescue_rope", "rescue_pole", "fence"]
    if load_calendar().key_period(today_local()):  # the state is reported as of today
        expected_missing.append("patrol")
    assert created["properties"]["missing"] == expected_missing


BAD_ZONES = [
    (
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[109.195, 21.665], [109.196, 21.666], [109.196, 21.665], [109.195, 21.666], [109.195, 21.665]]
                ],
            }
        },
        "Self-intersection",
    ),
    ({"geometry": {"type": "Point", "coordinates": [109.2, 21.66]}}, "Polygon or MultiPolygon"),
    ({"geometry": shapely.geometry.mapping(shapely.box(113.2, 23.1, 113.21, 23.11))}, "outside the service area"),
    ({"geometry": shapely.geometry.mapping(shapely.box(109.2, 21.67, 109.20001, 21.67001))}, "sliver"),
    ({"geometry": shapely.geometry.mapping(shapely.box(109.0, 21.5, 109.3, 21.8))}, "implausible"),
    ({"properties": {"name": "x", "kind": "lake"}}, "unknown value 'lake'"),
    (
        {
            "properties": {
                "name": "x",
                "kind": "pond",
                "patrols": [{"valid_from": "2026-12-01", "valid_to": "2026-01-01", "weekdays": [6]}],
            }
        },
        "before valid_from",
    ),
    (
        {
            "properties": {
                "name": "x",
                "kind": "pond",
                "patrols": [{"valid_from": "2026-01-01", "valid_to": "2026-12-01", "weekdays": [8]}],
            }
        },
        "weekday",
    ),
    ({"properties": {"kind": "pond"}}, "name"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_ZONES)
def test_bad_zones_are_refused_with_reasons(
    world, client: TestClient, beihai: Engine, change: dict, reason: str
) -> None:
    before = _count(beihai)
    response = client.post("/api/v1/hazards", headers=auth(world["planner"]), json={**_new_zone(), **change})
    assert response.status_code == 422, response.text
    assert reason in response.text
    assert _count(beihai) == before


def test_repair_makes_a_bowtie_valid_and_reports_it(world, client: TestClient) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[109.195, 21.665], [109.196, 21.666], [109.196, 21.665], [109.195, 21.666], [109.195, 21.665]]
        ],
    }
    response = client.post(
        "/api/v1/hazards?repair=true", headers=auth(world["planner"]), json={**_new_zone(), "geometry": bowtie}
    )
    assert response.status_code == 201, response.text
    report = response.json()["repaired"]
    assert report["was"].startswith("Self-intersection") and report["parts"] == 2


def test_versions_conflicts_soft_delete_and_history(world, client: TestClient) -> None:
    planner = world["planner"]
    zone = client.post("/api/v1/hazards", headers=auth(planner), json=_new_zone()).json()
    zid = zone["id"]
    ok = client.patch(
        f"/api/v1/hazards/{zid}", headers=auth(planner, **{"If-Match": '"1"'}), json={"properties": {"lifebuoy": True}}
    )
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = client.patch(
        f"/api/v1/hazards/{zid}", headers=auth(planner, **{"If-Match": '"1"'}), json={"properties": {"fence": True}}
    )
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    stale_body = client.patch(
        f"/api/v1/hazards/{zid}", headers=auth(planner), json={"properties": {"fence": True}, "version": 1}
    )
    assert stale_body.status_code == 409 and stale_body.json()["current_version"] == 2
    assert (
        client.patch(f"/api/v1/hazards/{zid}", headers=auth(planner), json={"properties": {"fence": True}}).status_code
        == 428
    )
    moved = shapely.geometry.mapping(wedge(GATE_A, 300, 650))
    assert (
        client.patch(
            f"/api/v1/hazards/{zid}", headers=auth(planner), json={"geometry": moved, "datum": "wgs84", "version": 2}
        ).status_code
        == 200
    )
    assert client.delete(f"/api/v1/hazards/{zid}", headers=auth(planner, **{"If-Match": '"3"'})).status_code == 204
    gone = client.get(f"/api/v1/hazards/{zid}", headers=auth(planner))
    assert gone.status_code == 404 and "deleted" in gone.json()["detail"]
    history = client.get(f"/api/v1/hazards/{zid}/history", headers=auth(world["viewer"])).json()
    assert [(h["version"], h["action"], h["actor"]) for h in history] == [
        (1, "create", "planner"),
        (2, "update", "planner"),
        (3, "update", "planner"),
        (4, "delete", "planner"),
    ]
    assert history[1]["changed"] == ["lifebuoy"]
    assert history[1]["old_values"]["lifebuoy"] is False and history[1]["new_values"]["lifebuoy"] is True
    assert "geometry" in history[2]["changed"]
    assert history[2]["old_values"]["geometry"] != history[2]["new_values"]["geometry"]
    ids = {f["id"] for f in hotspots(client, world["viewer"], today_local())["features"]}
    assert zid not in ids  # deleted zones leave the queries from their deletion on (test_as_of: days before it)


def test_two_simultaneous_edits_exactly_one_wins(world, client: TestClient, beihai: Engine) -> None:
    results: list[int] = []
    barrier = threading.Barrier(2)

    def edit(field: str) -> None:
        barrier.wait()
        response = client.patch(
            "/api/v1/hazards/Z2",
            headers=auth(world["planner"], **{"If-Match": '"1"'}),
            json={"properties": {field: True}},
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(f,)) for f in ("lifebuoy", "fence")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 412]
    with beihai.connect() as conn:
        version = conn.execute(text("SELECT version FROM water_hazards WHERE id = 'Z2'")).scalar_one()
        applied = conn.execute(text("SELECT count(*) FROM water_hazard_history WHERE hazard_id = 'Z2'")).scalar_one()
    assert version == 2 and applied == 1


def test_who_may_edit(world, client: TestClient) -> None:
    body = _new_zone()
    assert client.post("/api/v1/hazards", headers=auth(world["viewer"]), json=body).status_code == 403
    assert client.post("/api/v1/hazards", headers=auth(world["hepu"]), json=body).status_code == 403
    refused = client.post("/api/v1/hazards", headers=auth(world["planner_tsg"]), json=body)
    assert refused.status_code == 403 and "450521" in refused.json()["detail"]
    assert client.get("/api/v1/hazards/Z2", headers=auth(world["haicheng"])).status_code == 404  # as if missing
    assert client.get("/api/v1/hazards/Z2", headers=auth(world["hepu"])).status_code == 200
    assert client.post("/api/v1/hazards", json=body).status_code == 401


def test_imports_keep_history_too(world, client: TestClient) -> None:
    history = client.get("/api/v1/hazards/Z1/history", headers=auth(world["viewer"]))
    assert history.status_code == 404  # the fixture cleared the history table after loading
    frame = zones_frame()
    frame.loc[frame["id"] == "Z1", "name"] = "改名水域"
    with tempfile.TemporaryDirectory() as folder:
        path = write(frame, Path(folder) / "zones.geojson")
        response = client.post(
            "/api/v1/imports/water_hazards?datum=wgs84&mode=upsert",
            headers=auth(world["planner"]),
            files={"file": (path.name, path.read_bytes())},
        )
    assert response.status_code == 201
    history = client.get("/api/v1/hazards/Z1/history", headers=auth(world["viewer"])).json()
    assert history[-1]["actor"] == "planner" and history[-1]["changed"] == ["name"]

"""Due premises, today's route and recording visits, on the hand-checked fixture world."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import crs
from geo_safety.rules import today_local
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.conftest import auth
from tests.inspection_world import CAMPUS_C, EXPECTED_DUE, GATE_A, GATE_K, PREMISES, D, at, write_world

SETUP = Actor("test-setup", "pytest")


def geodesic_to_school(point: tuple[float, float], school: str) -> float:
    """Independent oracle: pyproj geodesic distance to the gate, or to a densely sampled campus boundary."""
    if school == "SC":
        if CAMPUS_C.contains(shapely.Point(point)):
            return 0.0
        ring = shapely.get_coordinates(shapely.segmentize(CAMPUS_C.exterior, 0.000002))
        return float(crs.geodesic_distance_m(point[0], point[1], ring[:, 0], ring[:, 1]).min())
    gate = {"SA": GATE_A, "SK": GATE_K}[school]
    return float(crs.geodesic_distance_m(*point, *gate))


@pytest.fixture
def world(beihai: Engine, settings: Settings, tmp_path: Path) -> dict[str, str]:
    paths = write_world(tmp_path)
    for layer in ("schools", "school_campuses", "premises", "inspections"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    tokens = {}
    for name, role, districts in (
        ("hepu", "inspector", ("450521",)),
        ("haicheng", "inspector", ("450502",)),
        ("viewer", "viewer", ()),
        ("admin", "admin", ()),
    ):
        tokens[name] = users.add_user(beihai, settings, SETUP, name, role, districts).token
    return tokens


def test_due_list_matches_the_hand_checked_answer(world, client: TestClient) -> None:
    body = client.get(f"/api/v1/inspections/due?date={D}", headers=auth(world["viewer"])).json()
    got = [
        (
            f["id"],
            f["properties"]["reason"],
            f["properties"]["violation"],
            f["properties"]["days_overdue"],
            f["properties"]["rule_distance_m"],
            f["properties"]["nearest_school_id"],
        )
        for f in body["features"]
    ]
    assert got == EXPECTED_DUE
    assert [f["properties"]["priority"] for f in body["features"]] == [1, 2, 3, 4, 5]
    assert body["numberMatched"] == 5
    for feature in body["features"]:
        props = feature["properties"]
        position = PREMISES[props["target_id"]][1]
        assert props["distance_m"] == pytest.approx(geodesic_to_school(position, props["nearest_school_id"]), abs=0.5)
        assert props["target_type"] == "premise"
        assert feature["geometry"]["coordinates"] == pytest.approx(list(position), abs=1e-7)
    p1 = next(f for f in body["features"] if f["id"] == "P1")["properties"]
    assert p1["distance_m"] == pytest.approx(199.6, abs=0.05) and p1["last_inspected_on"] is None
    p7 = next(f for f in body["features"] if f["id"] == "P7")["properties"]
    assert p7["distance_m"] == pytest.approx(180.0, abs=0.5)  # to the campus, not to the gate (~290 m)


def test_boundaries_of_the_rules(world, client: TestClient) -> None:
    """200.4 m is out, a kindergarten has no internet-café rule, 110 m is out for a kindergarten."""
    ids = {
        f["id"]
        for f in client.get(f"/api/v1/inspections/due?date={D}", headers=auth(world["viewer"])).json()["features"]
    }
    assert not ids & {"P2", "P3", "P5", "P8", "P9", "P10", "P12"}
    assert geodesic_to_school(PREMISES["P2"][1], "SA") == pytest.approx(200.4, abs=0.01)


def test_follow_up_date_brings_a_failure_back(world, client: TestClient) -> None:
    later = client.get(f"/api/v1/inspections/due?date={D + timedelta(days=4)}", headers=auth(world["viewer"])).json()
    p12 = next(f for f in later["features"] if f["id"] == "P12")["properties"]
    assert (p12["reason"], p12["days_overdue"], p12["violation"]) == ("failed_recheck", 0, True)
    # inspections dated after D are ignored: on D+2, P11 was visited and is no longer due
    after = client.get(f"/api/v1/inspections/due?date={D + timedelta(days=2)}", headers=auth(world["viewer"])).json()
    assert "P11" not in {f["id"] for f in after["features"]}


def test_paging_and_district_scope(world, client: TestClient) -> None:
    page = client.get(f"/api/v1/inspections/due?date={D}&limit=2&offset=2", headers=auth(world["viewer"])).json()
    assert [f["id"] for f in page["features"]] == ["P4", "P7"]
    assert [f["properties"]["priority"] for f in page["features"]] == [3, 4]
    mine = client.get(f"/api/v1/inspections/due?date={D}", headers=auth(world["haicheng"])).json()
    assert mine["features"] == []  # the 海城区 inspector sees none of 合浦县's premises
    other = client.get(f"/api/v1/inspections/due?date={D}&district=450521", headers=auth(world["haicheng"]))
    assert other.status_code == 403


def test_today_route_is_the_shortest_order(world, client: TestClient) -> None:
    start = at(GATE_A, 180, 500)
    body = client.get(
        f"/api/v1/inspections/today?date={D}&limit=4&start={start[0]},{start[1]}", headers=auth(world["hepu"])
    ).json()
    stops = body["features"]
    assert {f["id"] for f in stops} == {"P6", "P1", "P4", "P7"}  # the four highest priorities
    assert [f["properties"]["route_order"] for f in stops] == [1, 2, 3, 4]
    points = {f["id"]: PREMISES[f["id"]][1] for f in stops}

    def length(order: tuple[str, ...]) -> float:
        path = [start] + [points[k] for k in order]
        return sum(float(crs.geodesic_distance_m(*a, *b)) for a, b in itertools.pairwise(path))

    best = min(itertools.permutations(points), key=length)
    assert tuple(f["id"] for f in stops) == best
    assert body["route_length_m"] == pytest.approx(length(best), abs=0.5)
    assert sum(f["properties"]["leg_distance_m"] for f in stops) == pytest.approx(body["route_length_m"], abs=0.5)
    assert body["route"]["coordinates"][0] == pytest.approx(list(start))


def test_recording_a_visit(world, client: TestClient, beihai: Engine) -> None:
    today = today_local()
    due_today = {f["id"] for f in client.get("/api/v1/inspections/due", headers=auth(world["hepu"])).json()["features"]}
    assert "P1" in due_today
    near = at(PREMISES["P1"][1], 90, 30)
    response = client.post(
        "/api/v1/inspections",
        headers=auth(world["hepu"]),
        json={"target_id": "P1", "result": "pass", "position": {"lon": near[0], "lat": near[1], "datum": "wgs84"}},
    )
    assert response.status_code == 201, response.text
    assert response.json()["off_site"] is False and response.json()["distance_m"] == pytest.approx(30, abs=0.5)
    after = {f["id"] for f in client.get("/api/v1/inspections/due", headers=auth(world["hepu"])).json()["features"]}
    assert "P1" not in after  # it leaves today's list at once
    # a failure leaves the list today and comes back on its follow-up date
    failed = client.post(
        "/api/v1/inspections",
        headers=auth(world["hepu"]),
        json={"target_id": "P4", "result": "fail", "findings": "无证经营"},
    )
    assert failed.json()["follow_up_due"] == (today + timedelta(days=7)).isoformat()
    assert "P4" not in {
        f["id"] for f in client.get("/api/v1/inspections/due", headers=auth(world["hepu"])).json()["features"]
    }
    back = client.get(f"/api/v1/inspections/due?date={today + timedelta(days=7)}", headers=auth(world["hepu"]))
    p4 = next(f for f in back.json()["features"] if f["id"] == "P4")
    assert p4["properties"]["reason"] == "failed_recheck"
    # 'closed' closes the premise
    client.post("/api/v1/inspections", headers=auth(world["hepu"]), json={"target_id": "P7", "result": "closed"})
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT status FROM premises WHERE id = 'P7'")).scalar_one() == "closed"
        audit = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'inspection.create'")).scalar_one()
    assert audit == 3


def test_off_site_and_datums(world, client: TestClient, beihai: Engine) -> None:
    far = at(PREMISES["P6"][1], 0, 150)
    response = client.post(
        "/api/v1/inspections",
        headers=auth(world["hepu"]),
        json={"target_id": "P6", "result": "pass", "position": {"lon": far[0], "lat": far[1], "datum": "wgs84"}},
    )
    assert response.status_code == 201
    assert response.json()["off_site"] is True and "off_site" in response.json()["warning"]
    # a phone app on AMap reports GCJ-02: 20 m away once converted, ~500 m if it were not
    near = at(PREMISES["P11"][1], 0, 20)
    gcj = [float(v) for v in crs.wgs84_to_gcj02(*near)]
    response = client.post(
        "/api/v1/inspections",
        headers=auth(world["hepu"]),
        json={"target_id": "P11", "result": "pass", "position": {"lon": gcj[0], "lat": gcj[1], "datum": "gcj02"}},
    )
    assert response.json()["off_site"] is False and response.json()["distance_m"] == pytest.approx(20, abs=0.5)
    with beihai.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT ST_X(position), ST_Y(position), position_datum FROM inspections "
                "WHERE premise_id = 'P11' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert crs.geodesic_distance_m(stored[0], stored[1], *near) < 0.5 and stored[2] == "gcj02"


BAD_REQUESTS = [
    ("GET", "/api/v1/inspections/due?district=450599", None, 404, "unknown district"),
    ("GET", "/api/v1/inspections/due?date=2026-13-45", None, 422, "date"),
    ("GET", "/api/v1/inspections/today?start=109.2", None, 422, "start must be LON,LAT"),
    ("GET", "/api/v1/inspections/today?start=abc,def", None, 422, "start must be LON,LAT"),
    ("POST", "/api/v1/inspections", {"target_id": "NOPE", "result": "pass"}, 404, "no premise"),
    ("POST", "/api/v1/inspections", {"target_id": "P1", "result": "excellent"}, 422, "result"),
    (
        "POST",
        "/api/v1/inspections",
        {"target_id": "P1", "result": "pass", "position": {"lon": 113.26, "lat": 23.13, "datum": "wgs84"}},
        422,
        "outside the service area",
    ),
    (
        "POST",
        "/api/v1/inspections",
        {"target_id": "P1", "result": "pass", "inspected_at": "2099-01-01T10:00:00"},
        422,
        "future",
    ),
    (
        "POST",
        "/api/v1/inspections",
        {"target_id": "P1", "result": "pass", "position": {"lon": 109.2, "lat": 21.66, "datum": "mars"}},
        422,
        "datum",
    ),
]


@pytest.mark.parametrize(("method", "url", "body", "status", "reason"), BAD_REQUESTS)
def test_bad_input_is_rejected_and_stores_nothing(
    world, client: TestClient, beihai: Engine, method, url, body, status, reason
) -> None:
    with beihai.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM inspections")).scalar_one()
    response = client.request(method, url, json=body, headers=auth(world["hepu"]))
    assert response.status_code == status, response.text
    assert reason in response.text
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM inspections")).scalar_one() == before


def test_only_inspectors_of_the_district_record(world, client: TestClient) -> None:
    body = {"target_id": "P1", "result": "pass"}
    # another district's premise answers as a missing one would: which district holds an id is not revealed
    elsewhere = client.post("/api/v1/inspections", headers=auth(world["haicheng"]), json=body)
    missing = client.post("/api/v1/inspections", headers=auth(world["haicheng"]), json={**body, "target_id": "P999"})
    assert elsewhere.status_code == missing.status_code == 404
    assert elsewhere.json()["detail"].replace("'P1'", "'X'") == missing.json()["detail"].replace("'P999'", "'X'")
    assert client.post("/api/v1/inspections", headers=auth(world["viewer"]), json=body).status_code == 403
    assert client.post("/api/v1/inspections", json=body).status_code == 401
    assert client.post("/api/v1/inspections", headers=auth(world["admin"]), json=body).status_code == 201


def test_route_planner_never_loses_a_stop() -> None:
    from geo_safety.routing import plan_route

    rng = np.random.default_rng(3)
    lon, lat = 109.2 + rng.uniform(0, 0.05, 30), 21.66 + rng.uniform(0, 0.05, 30)
    order = plan_route(lon, lat, (109.19, 21.65))
    assert sorted(order) == list(range(30))

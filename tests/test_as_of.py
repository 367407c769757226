"""Answers for a date depend only on what was recorded for that date (issue 15 item 1).

The worlds are the hand-checked inspection and hazard worlds (D = 2026-11-20, SCHOOL_DAY = 2026-11-26); every
later visit, registry closure or zone edit below is dated after the day asked about, so the expected answers
for that day are the worlds' own, and the later days' answers follow from the rules by hand.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.errors import ImportRejected
from geo_safety.rules import today_local
from geo_safety.ruleset import load_rules
from geo_safety.services import hotspots, links, reports, users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.services.inspections import due
from geo_safety.settings import Settings
from tests.conftest import auth
from tests.hazard_world import EXPECTED_SCHOOL_DAY, SCHOOL_DAY, zones_frame
from tests.inspection_world import PREMISES, D, write_world
from tests.world import write

HEPU = ("450521",)
FIX_Z2 = "UPDATE water_hazards SET lifebuoy = true, fence = true, version = version + 1 WHERE id = 'Z2'"
RULES = load_rules()


def _backdate_zone_history(engine: Engine, day: date) -> None:
    """The zones as loaded are what was recorded on ``day`` (files are loaded long after the days asked about)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE water_hazard_history SET at = :t"), {"t": f"{day}T09:00+08:00"})


@pytest.fixture
def world(beihai: Engine, settings: Settings, tmp_path: Path) -> dict[str, str]:
    paths = write_world(tmp_path)
    for layer in ("schools", "school_campuses", "premises", "inspections"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    load_file(beihai, "water_hazards", write(zones_frame(), tmp_path / "zones.geojson"), datum="wgs84")
    _backdate_zone_history(beihai, D - timedelta(days=90))
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    return {
        "hepu": users.add_user(beihai, settings, Actor("t"), "hepu", "inspector", HEPU).token or "",
        "admin": users.add_user(beihai, settings, Actor("t"), "admin", "admin").token or "",
    }


def due_on(engine: Engine, day: date, include_all: bool = False) -> dict[str, tuple[str | None, int | None]]:
    """Premise id -> (reason, days overdue) on ``day`` in 合浦县 (with ``include_all``: every premise in scope)."""
    body = due(engine, RULES, day, HEPU, limit=5000, with_zones=False, include_all=include_all)
    return {f["id"]: (f["properties"]["reason"], f["properties"]["days_overdue"]) for f in body["features"]}


def visit(client: TestClient, token: str, target: str, result: str, day: date, **extra: Any) -> None:
    body = {"target_id": target, "result": result, "inspected_at": f"{day}T10:00:00+08:00", **extra}
    response = client.post("/api/v1/inspections", headers=auth(token), json=body)
    assert response.status_code == 201, response.text


def status_now(engine: Engine, premise: str) -> tuple[str, date | None]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, closed_on FROM premises WHERE id = :id"), {"id": premise}).one()
    return row.status, row.closed_on


# -- premises: visits -------------------------------------------------------------------------------------------
def test_a_premise_closed_after_d_is_still_due_on_d(world, client: TestClient, beihai: Engine) -> None:
    before = due_on(beihai, D)
    assert before["P1"] == ("never_inspected", None) and before["P4"] == ("overdue", 10)
    visit(client, world["hepu"], "P1", "closed", D + timedelta(days=5))
    visit(client, world["hepu"], "P4", "not_found", D + timedelta(days=3))
    assert due_on(beihai, D) == before  # what was recorded for D has not changed
    assert due_on(beihai, D + timedelta(days=2))["P4"] == ("overdue", 12)  # the day before it was not found
    assert "P4" not in due_on(beihai, D + timedelta(days=3), include_all=True)  # gone from its visit's day on
    assert due_on(beihai, D + timedelta(days=4))["P1"] == ("never_inspected", None)
    assert "P1" not in due_on(beihai, D + timedelta(days=5), include_all=True)
    assert status_now(beihai, "P1") == ("closed", D + timedelta(days=5))
    assert status_now(beihai, "P4") == ("closed", D + timedelta(days=3))


def test_closed_then_found_open_again(world, client: TestClient, beihai: Engine) -> None:
    visit(client, world["hepu"], "P1", "closed", D + timedelta(days=1))
    visit(client, world["hepu"], "P1", "fail", D + timedelta(days=4), findings="又开张了")  # follow-up D+11
    assert due_on(beihai, D)["P1"] == ("never_inspected", None)
    assert "P1" not in due_on(beihai, D + timedelta(days=3), include_all=True)  # closed D+1 … D+3
    assert due_on(beihai, D + timedelta(days=4), include_all=True)["P1"] == (None, None)  # open again, just seen
    assert due_on(beihai, D + timedelta(days=11))["P1"] == ("failed_recheck", 0)  # due again on its follow-up
    assert status_now(beihai, "P1") == ("open", None)
    # a visit recorded late, dated before the reopening, changes the days before it only
    visit(client, world["hepu"], "P1", "not_found", D + timedelta(days=2))
    assert status_now(beihai, "P1") == ("open", None)
    assert due_on(beihai, D + timedelta(days=11))["P1"] == ("failed_recheck", 0)


def test_a_phone_visit_writes_the_history_too(world, client: TestClient, beihai: Engine) -> None:
    lon, lat = PREMISES["P7"][1]
    body = {
        "client_id": str(uuid.uuid4()),
        "target_type": "premise",
        "target_id": "P7",
        "result": "closed",
        "checklist": [],
        "inspected_at": f"{D + timedelta(days=6)}T15:00:00+08:00",
        "position": {"lon": lon, "lat": lat, "datum": "wgs84", "accuracy_m": 8},
    }
    response = client.post("/api/v1/visits", headers=auth(world["hepu"]), json=body)
    assert response.status_code == 201, response.text
    assert due_on(beihai, D + timedelta(days=5))["P7"] == ("overdue", 15)
    assert "P7" not in due_on(beihai, D + timedelta(days=6), include_all=True)
    with beihai.connect() as conn:
        rows = conn.execute(
            text("SELECT status, valid_from, source FROM premise_status_history WHERE premise_id = 'P7' ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("open", D - timedelta(days=100), "inspection"),  # the ledger's pass
        ("closed", D + timedelta(days=6), "inspection"),
    ]


# -- premises: the licence registry -----------------------------------------------------------------------------
def registry(tmp_path: Path, rows: dict[str, tuple[str, date | None]]) -> Path:
    """A registry file of some of the world's premises: id -> (status, closed_on)."""
    frame = gpd.GeoDataFrame(
        {
            "id": list(rows),
            "name": [f"场所{k}" for k in rows],
            "category": [PREMISES[k][0] for k in rows],
            "status": [v[0] for v in rows.values()],
            "closed_on": [v[1].isoformat() if v[1] else None for v in rows.values()],
        },
        geometry=[shapely.Point(PREMISES[k][1]) for k in rows],
        crs=4326,
    )
    return write(frame, tmp_path / f"registry-{uuid.uuid4().hex[:6]}.csv")


def test_a_registry_closure_with_and_without_closed_on(world, beihai: Engine, tmp_path: Path) -> None:
    today = today_local()
    before = due_on(beihai, D - timedelta(days=4))
    assert before["P4"] == ("overdue", 6) and due_on(beihai, today - timedelta(days=1))["P7"][0] == "overdue"
    closing = {"P4": ("closed", D - timedelta(days=3)), "P7": ("closed", None)}
    load_file(beihai, "premises", registry(tmp_path, closing), datum="wgs84", mode="upsert")
    # with closed_on: from that day (even when it lies before the import)
    assert due_on(beihai, D - timedelta(days=4))["P4"] == ("overdue", 6)
    assert "P4" not in due_on(beihai, D - timedelta(days=3), include_all=True)
    assert "P4" not in due_on(beihai, D, include_all=True)
    # without: from the day of the import
    yesterday = today - timedelta(days=1)
    assert due_on(beihai, yesterday)["P7"] == ("overdue", (yesterday - (D - timedelta(days=100))).days - 90)
    assert "P7" not in due_on(beihai, today, include_all=True)
    assert status_now(beihai, "P4") == ("closed", D - timedelta(days=3))
    assert status_now(beihai, "P7") == ("closed", None)
    with beihai.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT premise_id, status, valid_from, source FROM premise_status_history "
                "WHERE source = 'import' ORDER BY premise_id, id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("P4", "closed", D - timedelta(days=3), "import"),
        ("P7", "closed", today, "import"),
        ("P8", "closed", None, "import"),  # loaded closed in the first place: closed since always
    ]
    # loading the same file again records nothing new; reopening counts from the day of the import
    load_file(beihai, "premises", registry(tmp_path, closing), datum="wgs84", mode="upsert")
    load_file(beihai, "premises", registry(tmp_path, {"P4": ("open", None)}), datum="wgs84", mode="upsert")
    assert "P4" not in due_on(beihai, yesterday, include_all=True)
    assert due_on(beihai, today)["P4"][0] == "overdue"
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM premise_status_history WHERE source = 'import'")).scalar() == 4


def test_closed_on_needs_a_closed_status(world, beihai: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected) as err:
        load_file(beihai, "premises", registry(tmp_path, {"P4": ("open", D)}), datum="wgs84", mode="upsert")
    assert err.value.field == "closed_on" and "status" in str(err.value)
    assert status_now(beihai, "P4") == ("open", None)


# -- the programme report ----------------------------------------------------------------------------------------
def test_a_past_periods_report_is_the_same_after_later_visits_and_zone_edits(
    world, client: TestClient, beihai: Engine
) -> None:
    period = (D - timedelta(days=60), D)
    first = reports.programme(beihai, RULES, *period, None)
    hepu = next(r for r in first["districts"] if r["district_code"] == "450521")
    assert (hepu["failures"], hepu["failures_rechecked_on_time"]) == (2, 0)  # P6 −10, P12 −3 (follow-up D+4)
    assert (hepu["unguarded_zones"], hepu["students_near_unguarded"]) == (4, 2000)  # Z2, Z5, Z6, Z7 on D
    # later: P12 re-checked on D+1 (before its follow-up date), P6 closed, P4 not found
    visit(client, world["hepu"], "P12", "pass", D + timedelta(days=1))
    visit(client, world["hepu"], "P6", "closed", D + timedelta(days=2))
    visit(client, world["hepu"], "P4", "not_found", D + timedelta(days=3))
    with beihai.begin() as conn:  # Z2 gets its measures, Z5 a person in charge and a new shape; Z6 is removed
        conn.execute(
            text("UPDATE water_hazards SET lifebuoy = true, fence = true, version = version + 1 WHERE id = 'Z2'")
        )
        conn.execute(
            text(
                "UPDATE water_hazards SET responsible_person = '张五', geom = ST_Translate(geom, 0.03, 0), "
                "version = version + 1 WHERE id = 'Z5'"
            )
        )
        conn.execute(text("UPDATE water_hazards SET deleted_at = now(), version = version + 1 WHERE id = 'Z6'"))
    assert reports.programme(beihai, RULES, *period, None) == first
    # a period that includes the later visits sees them (the zone edits are dated today: after it)
    later = reports.programme(beihai, RULES, D - timedelta(days=60), D + timedelta(days=11), None)
    hepu = next(r for r in later["districts"] if r["district_code"] == "450521")
    # P12 re-checked by its follow-up date; P6 (tobacco inside campus C) found closed
    assert (hepu["failures"], hepu["failures_rechecked_on_time"], hepu["violations_closed"]) == (2, 1, 1)


# -- drowning hotspots -------------------------------------------------------------------------------------------
def _hotspots(engine: Engine, day: date) -> list[tuple[str, list[str], int, int, float]]:
    body = hotspots.drowning_hotspots(engine, RULES, day, HEPU)
    return [
        (
            f["id"],
            f["properties"]["missing"],
            f["properties"]["schools_within"],
            f["properties"]["students_within"],
            f["properties"]["risk_score"],
        )
        for f in body["features"]
    ]


def _as_expected(got: list[tuple[str, list[str], int, int, float]]) -> None:
    """The hand-computed hotspots of SCHOOL_DAY (risk to 0.01: links and live distances agree to millimetres)."""
    assert [g[:4] for g in got] == [e[:4] for e in EXPECTED_SCHOOL_DAY]
    assert [g[4] for g in got] == pytest.approx([e[4] for e in EXPECTED_SCHOOL_DAY], abs=0.01)


def test_hotspots_of_a_past_day_use_the_zones_as_they_stood(world, beihai: Engine) -> None:
    _as_expected(_hotspots(beihai, SCHOOL_DAY))
    with beihai.begin() as conn:
        # measures added later (Z2), a person named and the zone moved 3 km away (Z5), a zone deleted (Z6)
        conn.execute(
            text("UPDATE water_hazards SET lifebuoy = true, fence = true, version = version + 1 WHERE id = 'Z2'")
        )
        conn.execute(
            text(
                "UPDATE water_hazards SET responsible_person = '张五', geom = ST_Translate(geom, 0.03, 0), "
                "version = version + 1 WHERE id = 'Z5'"
            )
        )
        conn.execute(text("UPDATE water_hazards SET deleted_at = now(), version = version + 1 WHERE id = 'Z6'"))
        links.refresh_hazards(conn.connection.driver_connection, ["Z2", "Z5", "Z6"])
    _as_expected(_hotspots(beihai, SCHOOL_DAY))  # that day they were still unguarded, and there
    now = {z: missing for z, missing, *_ in _hotspots(beihai, today_local())}
    assert "Z5" not in now and "Z6" not in now  # moved out of reach; deleted
    assert not {"lifebuoy", "fence"} & set(now.get("Z2", []))


def test_a_zone_first_recorded_after_the_day_is_taken_as_first_recorded(world, beihai: Engine) -> None:
    with beihai.begin() as conn:  # Z2 digitised only today, and given its missing measures right after
        conn.execute(text("UPDATE water_hazard_history SET at = now() WHERE hazard_id = 'Z2'"))
        conn.execute(
            text("UPDATE water_hazards SET lifebuoy = true, fence = true, version = version + 1 WHERE id = 'Z2'")
        )
        links.refresh_hazards(conn.connection.driver_connection, ["Z2"])
    _as_expected(_hotspots(beihai, SCHOOL_DAY))


def test_the_api_answers_a_past_day_from_the_history(world, client: TestClient, beihai: Engine) -> None:
    url = f"/api/v1/hotspots/drowning?date={SCHOOL_DAY}&district=450521"
    before = client.get(url, headers=auth(world["admin"])).json()["features"]
    with beihai.begin() as conn:
        conn.execute(text("UPDATE water_hazards SET deleted_at = now(), version = version + 1 WHERE id = 'Z5'"))
        links.refresh_hazards(conn.connection.driver_connection, ["Z5"])
    after = client.get(url, headers=auth(world["admin"])).json()["features"]
    assert [f["id"] for f in after] == [f["id"] for f in before] == ["Z5", "Z2", "Z6"]
    for old, new in zip(before, after, strict=True):
        assert new["geometry"] == old["geometry"] and new["properties"]["missing"] == old["properties"]["missing"]
        assert new["properties"]["risk_score"] == pytest.approx(old["properties"]["risk_score"], abs=0.01)


# -- water zones in the due list ----------------------------------------------------------------------------------
def test_a_zone_deleted_after_d_is_still_due_on_d(world, client: TestClient, beihai: Engine) -> None:
    def zones_due(day: date) -> set[str]:
        body = due(beihai, RULES, day, HEPU, limit=5000, with_zones=True)
        return {f["properties"]["target_id"] for f in body["features"] if f["properties"]["target_type"] != "premise"}

    before = zones_due(D)
    assert before, "the world has zones due on D"
    gone = sorted(before)[0]
    stored = client.get(f"/api/v1/hazards/{gone}", headers=auth(world["admin"]))
    deleted = client.delete(
        f"/api/v1/hazards/{gone}", headers={**auth(world["admin"]), "If-Match": stored.headers["etag"]}
    )
    assert deleted.status_code in (200, 204), deleted.text
    assert zones_due(D) == before  # it existed and was due on D: a later deletion changes nothing of D
    assert gone not in zones_due(date.today() + timedelta(days=1))  # from its deletion on, it is gone

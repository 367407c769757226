"""Cached answers follow what a write changes (issue 17): per-district data versions raised by triggers.

A visit in one district recomputes that district's due list and inspection maps and leaves the other
districts' cached; imports, zone edits and status changes raise the district they touch; logins and the
audit log raise nothing; concurrent requests for one missing answer still cost one computation.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.api.routers import maps as maps_router
from geo_safety.rules import LOCAL_TZ, today_local
from geo_safety.services import audit, cache, inspections, users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.conftest import auth, fresh_sample

SETUP = Actor("test-setup", "pytest")
A, B = "450502", "450521"  # 海城区, 合浦县: both hold premises and zones in the bundled sample


@pytest.fixture(scope="module")
def sample(session_engine: Engine, data_dir: Path, settings: Settings) -> dict[str, Any]:
    fresh_sample(session_engine, data_dir)
    return {
        "engine": session_engine,
        "a": users.add_user(session_engine, settings, SETUP, "versions-a", "inspector", (A,)),
        "b": users.add_user(session_engine, settings, SETUP, "versions-b", "inspector", (B,)).token,
        "planner": users.add_user(session_engine, settings, SETUP, "versions-planner", "planner").token,
    }


@pytest.fixture(scope="module")
def client(settings: Settings, sample: dict[str, Any]) -> TestClient:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def version_of(engine: Engine, district: str, layer: str) -> int:
    return dict(((d, lay), v) for d, lay, v in cache.versions(engine, [district], [layer])).get((district, layer), 0)


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, tuple[str, ...] | None]]:
    """How often each district's due list and inspection map is computed (not served from the cache)."""
    counts: Counter[tuple[str, tuple[str, ...] | None]] = Counter()
    due, today_map = inspections.due, maps_router.today_map_html

    def counted_due(engine: Engine, rules: Any, day: Any, districts: Any, *args: Any, **kw: Any) -> Any:
        counts[("due", districts)] += 1
        return due(engine, rules, day, districts, *args, **kw)

    def counted_map(engine: Engine, rules: Any, settings: Any, day: Any, districts: Any, **kw: Any) -> Any:
        counts[("map", districts)] += 1
        return today_map(engine, rules, settings, day, districts, **kw)

    monkeypatch.setattr(inspections, "due", counted_due)
    monkeypatch.setattr(maps_router, "today_map_html", counted_map)
    cache.clear()
    return counts


def open_day(client: TestClient, token: str, district: str) -> dict[str, Any]:
    """The inspector's plan and inspection map, as the phone and the printed map ask for them."""
    plan = client.get(f"/api/v1/plans/today?district={district}", headers=auth(token))
    assert plan.status_code == 200, plan.text
    page = client.get(f"/maps/inspection/today?district={district}", headers=auth(token))
    assert page.status_code == 200, page.text
    return plan.json()


def test_a_visit_recomputes_its_own_district_only(client: TestClient, sample: dict[str, Any], computations) -> None:
    a, b = sample["a"].token, sample["b"]
    for token, district in ((a, A), (b, B)):
        open_day(client, token, district)  # stores each inspector's plan (raises day_plans of that district)
    open_day(client, a, A)  # the map once more: A's stored plan is now part of what it read
    computations.clear()
    plan_a = open_day(client, a, A)
    open_day(client, b, B)
    assert computations == {}  # nothing written: everything served from the cache

    stop = next(s for s in plan_a["stops"] if s["status"] == "pending" and s["target_type"] == "premise")
    visit = {
        "client_id": "6f1c0a52-3b9e-4a59-9d0e-17e0f3c4a001",
        "target_type": "premise",
        "target_id": stop["target_id"],
        "result": "pass",
        "inspected_at": datetime.now(LOCAL_TZ).isoformat(timespec="seconds"),
    }
    response = client.post("/api/v1/visits", files={"visit": (None, json.dumps(visit))}, headers=auth(a))
    assert response.status_code == 201, response.text

    open_day(client, b, B)
    assert computations == {}  # B's due list and map stay cached: the visit changed nothing B reads
    plan_a = open_day(client, a, A)
    # A's map is computed afresh, once; its shell shows the stored plan and counts, so the due list is not built
    assert computations == {("map", (A,)): 1}
    assert next(s for s in plan_a["stops"] if s["target_id"] == stop["target_id"])["status"] == "done"
    due = inspections.shared_due(sample["engine"], client.app.state.rules, today_local(), (A,))
    assert computations == {("map", (A,)): 1, ("due", (A,)): 1}  # the list was stale: computed for this call
    assert stop["target_id"] not in {f.id for f in due.features}  # the cached list is the new one
    assert inspections.shared_due(sample["engine"], client.app.state.rules, today_local(), (A,)) is due
    assert cache.stats()["due:hit"] >= 1 and cache.stats()["today-map:hit"] >= 2


def _point_in(engine: Engine, district: str) -> tuple[float, float]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM districts WHERE code = :c) s"),
            {"c": district},
        ).one()
    return float(row[0]), float(row[1])


def test_imports_zone_edits_and_status_changes_raise_their_district(
    client: TestClient, sample: dict[str, Any], tmp_path: Path
) -> None:
    engine = sample["engine"]

    def snapshot() -> dict[tuple[str, str], int]:
        return {
            (d, layer): version_of(engine, d, layer)
            for d in (A, B, cache.WHOLE_AREA)
            for layer in ("premises", "water_hazards", "inspections", "schools")
        }

    def raised(before: dict[tuple[str, str], int]) -> set[tuple[str, str]]:
        after = snapshot()
        return {k for k in after if after[k] != before[k]}

    # a file import of one new premise in B
    before = snapshot()
    lon, lat = _point_in(engine, B)
    path = tmp_path / "premises.csv"
    row = {"id": "PVERS-1", "name": "版本测试网吧", "category": "internet_cafe", "lon": lon, "lat": lat}
    pd.DataFrame([{**row, "status": "open"}]).to_csv(path, index=False)
    load_file(engine, "premises", path, datum="wgs84")
    assert raised(before) == {(B, "premises")}

    # a zone edit in A through the API (If-Match)
    with engine.connect() as conn:
        zone = conn.execute(
            text("SELECT id, version FROM water_hazards WHERE district_code = :d AND deleted_at IS NULL LIMIT 1"),
            {"d": A},
        ).one()
    before = snapshot()
    response = client.patch(
        f"/api/v1/hazards/{zone.id}",
        json={"properties": {"note": "版本测试"}},
        headers={**auth(sample["planner"]), "If-Match": f'"{zone.version}"'},
    )
    assert response.status_code == 200, response.text
    assert raised(before) == {(A, "water_hazards")}

    # a status change by the registry (an import updating the premise) and by plain SQL
    before = snapshot()
    pd.DataFrame([{**row, "status": "closed"}]).to_csv(path, index=False)
    load_file(engine, "premises", path, datum="wgs84", mode="upsert")
    assert raised(before) == {(B, "premises")}
    with engine.connect() as conn:
        premise_a = conn.execute(text("SELECT min(id) FROM premises WHERE district_code = :d"), {"d": A}).scalar_one()
    before = snapshot()
    with engine.begin() as conn:
        conn.execute(text("UPDATE premises SET status = 'closed' WHERE id = :id"), {"id": premise_a})
    assert raised(before) == {(A, "premises")}

    # a school may be linked to premises of any district: its change raises the whole area
    before = snapshot()
    with engine.begin() as conn:
        conn.execute(text("UPDATE schools SET students = students WHERE id = (SELECT min(id) FROM schools)"))
    assert raised(before) == {(cache.WHOLE_AREA, "schools")}


def test_logins_and_the_audit_log_raise_nothing(sample: dict[str, Any], settings: Settings) -> None:
    engine = sample["engine"]
    before = cache.versions(engine)
    credentials = sample["a"]
    principal, session = users.login(engine, settings, credentials.name, credentials.password, "127.0.0.1")
    users.logout(engine, settings, session, Actor(principal.name))
    users.new_token(engine, settings, SETUP, credentials.name)
    with engine.begin() as conn:
        audit.record(conn, SETUP, "test.touch")
    assert cache.versions(engine) == before


def test_a_write_raises_its_version_only_when_it_commits(sample: dict[str, Any]) -> None:
    engine = sample["engine"]
    before = version_of(engine, B, "premises")
    with engine.connect() as writer:
        writer.execute(text("UPDATE premises SET name = name WHERE district_code = :d"), {"d": B})
        assert version_of(engine, B, "premises") == before  # not yet visible to readers
        writer.rollback()
    assert version_of(engine, B, "premises") == before
    with engine.begin() as writer:
        writer.execute(text("UPDATE premises SET name = name WHERE district_code = :d"), {"d": B})
    assert version_of(engine, B, "premises") == before + 1


def test_single_flight_holds(sample: dict[str, Any]) -> None:
    """Eight requests for one missing answer at once: one computation, every request gets its result."""
    engine = sample["engine"]
    cache.clear()
    calls = []
    started = threading.Barrier(8)
    results: list[int] = []

    def make() -> int:
        calls.append(1)
        time.sleep(0.3)
        return len(calls)

    def ask() -> None:
        started.wait()
        results.append(cache.cached(engine, ("flight", 1), make, districts=(A,)))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and results == [1] * 8
    assert cache.stats()["flight:miss"] == 1
    assert cache.stats()["flight:shared"] + cache.stats().get("flight:hit", 0) == 7

"""Stop-ship issue 13: heavy work bounded per user, other districts' schools kept out of scope, restore under a
running service, bad input answered with 4xx and a reason, slow clients cut off."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.api.middleware import BodyLimit
from geo_safety.services import backup, hotspots, users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from geo_safety.shapes.features import HotspotCollection
from tests.conftest import auth, fresh_sample

HAICHENG = "450502"
SUMMER_DAY = "2026-07-20"  # a key period: many zones are unguarded


@pytest.fixture(scope="module")
def sample(session_engine: Engine, data_dir: Path, settings: Settings) -> dict[str, str]:
    fresh_sample(session_engine, data_dir)
    setup = Actor("test-setup", "pytest")
    return {
        "inspector": users.add_user(session_engine, settings, setup, "r-insp", "inspector", (HAICHENG,)).token,
        "viewer": users.add_user(session_engine, settings, setup, "r-viewer", "viewer").token,
        "admin": users.add_user(session_engine, settings, setup, "r-admin", "admin").token,
        "planner": users.add_user(session_engine, settings, setup, "r-planner", "planner").token,
    }


@pytest.fixture(scope="module")
def client(settings: Settings, sample: dict[str, str]) -> TestClient:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


# -- 7. heavy work is bounded per user and per process -------------------------------------------------------
class Gate:
    """Holds the first ``hold`` calls of a service function until released; later calls pass straight through."""

    def __init__(self, real, hold: int) -> None:
        self.real, self.hold = real, hold
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
            held = self.calls <= self.hold
        if held:
            self.entered.release()
            self.release.wait(60)
        return self.real(*args, **kwargs)

    def wait_entered(self, n: int) -> None:
        for _ in range(n):
            assert self.entered.acquire(timeout=60), "a held request never reached the service"


def test_one_user_cannot_take_the_heavy_capacity(
    sample: dict[str, str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = settings.model_copy(update={"heavy_per_user": 2, "heavy_per_process": 3})
    gate = Gate(hotspots.drowning_hotspots, hold=2)
    monkeypatch.setattr(hotspots, "drowning_hotspots", gate)
    heavy = f"/collections/drowning_hotspots/items?date={SUMMER_DAY}&radius_m=3000"
    statuses: list[int] = []
    with TestClient(create_app(limited)) as client:

        def fire(token: str) -> threading.Thread:
            thread = threading.Thread(
                target=lambda: statuses.append(client.get(heavy, headers=auth(token)).status_code)
            )
            thread.start()
            return thread

        held = [fire(sample["viewer"]), fire(sample["viewer"])]
        try:
            _hold_and_check(client, gate, heavy, sample, held, fire)
        finally:
            gate.release.set()
            for thread in held:
                thread.join(60)
        assert statuses == [200, 200, 200]
        again = client.get(heavy, headers=auth(sample["viewer"]))  # the slots were given back
        assert again.status_code == 200


def _hold_and_check(client: TestClient, gate: Gate, heavy: str, sample: dict[str, str], held: list, fire) -> None:
    gate.wait_entered(2)
    excess = client.get(heavy, headers=auth(sample["viewer"]))
    assert excess.status_code == 429, excess.text[:300]
    assert int(excess.headers["retry-after"]) > 0 and "heavy" in excess.json()["detail"]
    gate.hold = 3
    held.append(fire(sample["admin"]))  # another user still gets the last slot of the process
    gate.wait_entered(1)
    busy = client.get(heavy, headers=auth(sample["planner"]))
    assert busy.status_code == 429 and busy.headers["retry-after"] and "busy" in busy.json()["detail"]
    # the inspectors' cheap requests never wait on heavy work
    light = client.get("/api/v1/inspections/today", headers=auth(sample["inspector"]))
    assert light.status_code == 200, light.text
    narrow = client.get(f"/api/v1/inspections/due?date={SUMMER_DAY}&limit=5", headers=auth(sample["inspector"]))
    assert narrow.status_code == 200


def test_heavy_routes_are_marked(client: TestClient, sample: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole-city due lists and reports are heavy; a district's due list is not."""
    from geo_safety.api import limits

    seen: list[str] = []
    real = limits.HeavyWork.enter

    def spy(self, user, reason):
        seen.append(reason)
        return real(self, user, reason)

    monkeypatch.setattr(limits.HeavyWork, "enter", spy)
    client.get(f"/api/v1/inspections/due?date={SUMMER_DAY}&limit=5", headers=auth(sample["inspector"]))
    assert seen == []
    client.get(f"/api/v1/inspections/due?date={SUMMER_DAY}&limit=5", headers=auth(sample["viewer"]))
    client.get("/api/v1/reports/programme?from=2026-01-01&to=2026-07-01", headers=auth(sample["viewer"]))
    client.get(f"/collections/due_inspections/items?date={SUMMER_DAY}&limit=5", headers=auth(sample["viewer"]))
    client.get(f"/collections/drowning_hotspots/items?date={SUMMER_DAY}&radius_m=500", headers=auth(sample["viewer"]))
    assert len(seen) == 4


# -- 8. other districts' schools stay in their district's scope -----------------------------------------------
def _other_schools(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name FROM schools WHERE district_code <> :d"), {"d": HAICHENG}).all()
    return dict(rows)


def _leaks(body: str, others: dict[str, str]) -> list[str]:
    return [f"{i} {n}" for i, n in others.items() if f'"{i}"' in body or n in body]


def test_hotspots_keep_other_districts_schools_out(
    client: TestClient, sample: dict[str, str], session_engine: Engine
) -> None:
    others = _other_schools(session_engine)
    inspector = auth(sample["inspector"])
    api = client.get(f"/api/v1/hotspots/drowning?date={SUMMER_DAY}&radius_m=5000", headers=inspector)
    assert api.status_code == 200
    features = api.json()["features"]
    assert features and not _leaks(api.text, others)
    # they are still counted, only as numbers
    assert sum(f["properties"]["schools_in_other_districts"] for f in features) > 0
    assert any(f["properties"]["nearest_school_id"] is None for f in features)
    for props in (f["properties"] for f in features):
        assert props["schools_within"] >= props["schools_in_other_districts"]
        assert props["distance_m"] is not None
        if props["nearest_school_id"] is None:  # only other districts' schools are near: counted, not named
            assert props["schools_in_other_districts"] == props["schools_within"] > 0
    ogc = client.get(f"/collections/drowning_hotspots/items?date={SUMMER_DAY}&radius_m=5000", headers=inspector)
    assert ogc.status_code == 200 and not _leaks(ogc.text, others)
    # the rings the hotspot map draws come from the same scope
    rings = hotspots.school_rings(session_engine, HotspotCollection.model_validate(api.json()), (HAICHENG,))
    assert rings and {r["properties"]["id"] for r in rings}.isdisjoint(others)
    page = client.get(f"/maps/hotspots/drowning?date={SUMMER_DAY}&radius_m=5000", headers=inspector)
    assert page.status_code == 200 and not _leaks(page.text, others)
    # a city-wide reader still sees schools across district borders
    city = client.get(f"/api/v1/hotspots/drowning?date={SUMMER_DAY}&radius_m=5000", headers=auth(sample["viewer"]))
    assert all(f["properties"]["schools_in_other_districts"] == 0 for f in city.json()["features"])
    assert hotspots.school_rings(session_engine, HotspotCollection.model_validate(city.json()), None)


# -- 9. restore under a running service -------------------------------------------------------------------------
def test_restore_refuses_while_the_service_is_connected_and_force_leaves_it_working(
    sample: dict[str, str], settings: Settings, session_engine: Engine, tmp_path: Path
) -> None:
    dump = backup.backup(settings, tmp_path / "before.dump")
    url = f"/api/v1/hotspots/drowning?date={SUMMER_DAY}"
    with TestClient(create_app(settings)) as client:
        assert client.get(url, headers=auth(sample["viewer"])).status_code == 200
        with pytest.raises(backup.SessionsConnected, match=r"connected.*--force"):
            backup.restore(settings, dump)
        terminated = backup.restore(settings, dump, force=True)
        assert terminated >= 1
        after = client.get(url, headers=auth(sample["viewer"]))
        assert after.status_code == 200, after.text
        again = client.get(url, headers=auth(sample["viewer"]))  # every pooled connection is a fresh one
        assert again.status_code == 200


def test_db_restore_command_says_why_it_refuses(
    sample: dict[str, str], settings: Settings, session_engine: Engine, tmp_path: Path, capsys, monkeypatch
) -> None:
    from geo_safety import cli

    dump = backup.backup(settings, tmp_path / "b.dump")
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    with session_engine.connect():  # someone else is connected
        assert cli.main(["db", "restore", str(dump)]) == 2
        assert "--force" in capsys.readouterr().err
        assert cli.main(["db", "restore", str(dump), "--force"]) == 0


# -- 10. bad input: 4xx with a reason, never 500 -----------------------------------------------------------------
BAD_GETS = [
    "/collections/schools/items?name=%00",
    "/collections/schools/items/%00",
    "/collections/drowning_hotspots/items/%00",
    "/collections/schools/items?offset=9223372036854775808",
    "/api/v1/layers/schools?offset=9223372036854775808",
    "/api/v1/inspections/due?offset=9223372036854775808",
    "/api/v1/hotspots/drowning?offset=9223372036854775808",
    "/maps/hotspots/drowning?date=0001-01-01",
    "/maps/districts/450502?date=0001-01-01",
    "/maps/inspection/today?date=9999-12-31",
    "/api/v1/inspections/due?date=0001-01-01",
    "/api/v1/inspections/today?date=9999-12-31",
    "/api/v1/hotspots/drowning?date=0001-01-01",
    "/api/v1/reports/programme?from=0001-01-01&to=9999-12-31",
    "/collections/drowning_hotspots/items?date=0001-01-01",
    "/collections/due_inspections/items?date=9999-12-31",
]


@pytest.mark.parametrize("url", BAD_GETS)
def test_bad_parameters_get_4xx_with_a_reason(client: TestClient, sample: dict[str, str], url: str) -> None:
    response = client.get(url, headers=auth(sample["admin"]))
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if response.headers["content-type"].startswith("application/json"):
        assert response.json()["detail"]


def test_a_huge_ogc_limit_is_clamped(client: TestClient, sample: dict[str, str]) -> None:
    response = client.get("/collections/districts/items?limit=9223372036854775808", headers=auth(sample["admin"]))
    assert response.status_code == 200 and response.json()["numberReturned"] == 4  # the standard: clamp to the max


def test_dates_outside_the_sane_range_are_named(client: TestClient, sample: dict[str, str]) -> None:
    response = client.get("/api/v1/inspections/due?date=1999-12-31", headers=auth(sample["admin"]))
    assert response.status_code == 422 and "2000-01-01" in response.text


def _post(client: TestClient, token: str, raw: str):
    return client.post(
        "/api/v1/inspections", content=raw.encode(), headers={**auth(token), "Content-Type": "application/json"}
    )


def _target(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM premises WHERE district_code = :d ORDER BY id LIMIT 1"), {"d": HAICHENG}
        ).scalar_one()


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_non_finite_positions_are_refused(
    client: TestClient, sample: dict[str, str], session_engine: Engine, number: str
) -> None:
    raw = (
        f'{{"target_id": "{_target(session_engine)}", "result": "pass", '
        f'"position": {{"lon": {number}, "lat": 21.5, "datum": "wgs84"}}}}'
    )
    response = _post(client, sample["inspector"], raw)
    assert response.status_code == 422, response.text
    assert "lon" in response.text
    json.loads(response.text)  # strict JSON (no bare Infinity/NaN)


@pytest.mark.parametrize("stamp", ["0001-01-01T10:00:00+08:00", "1999-12-31T10:00:00+08:00"])
def test_inspections_outside_the_sane_range_are_refused(
    client: TestClient, sample: dict[str, str], session_engine: Engine, stamp: str
) -> None:
    raw = json.dumps({"target_id": _target(session_engine), "result": "pass", "inspected_at": stamp})
    response = _post(client, sample["inspector"], raw)
    assert response.status_code == 422 and "2000-01-01" in response.text, response.text
    follow = json.dumps({"target_id": _target(session_engine), "result": "fail", "follow_up_due": "9999-12-31"})
    response = _post(client, sample["inspector"], follow)
    assert response.status_code == 422 and "2100-12-31" in response.text, response.text


def _zone_id(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM water_hazards WHERE deleted_at IS NULL ORDER BY id LIMIT 1")
        ).scalar_one()


@pytest.mark.parametrize("version", ["Infinity", "NaN", "1e999", "1.5"])
def test_non_finite_hazard_version_is_refused(
    client: TestClient, sample: dict[str, str], session_engine: Engine, version: str
) -> None:
    response = client.patch(
        f"/api/v1/hazards/{_zone_id(session_engine)}",
        content=f'{{"properties": {{}}, "version": {version}}}'.encode(),
        headers={**auth(sample["planner"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    json.loads(response.text)


def _ring(vertices: int) -> list[list[float]]:
    import math

    centre, radius = (109.25, 21.45), 0.002
    ring = [
        [
            centre[0] + radius * math.cos(2 * math.pi * k / vertices),
            centre[1] + radius * math.sin(2 * math.pi * k / vertices),
        ]
        for k in range(vertices)
    ]
    return [*ring, ring[0]]


def test_zone_vertex_limit_helper() -> None:
    from geo_safety.bounds import MAX_ZONE_VERTICES, check_zone_vertices
    from geo_safety.errors import TooLarge

    check_zone_vertices({"type": "Polygon", "coordinates": [_ring(1000)]})
    with pytest.raises(TooLarge, match=f"{MAX_ZONE_VERTICES:,}"):
        check_zone_vertices({"type": "MultiPolygon", "coordinates": [[_ring(15_000)], [_ring(15_000)]]})
    with pytest.raises(TooLarge):
        check_zone_vertices({"type": "Polygon", "coordinates": [[[0, 0]] * 10] * 10_000})


def test_huge_zones_are_refused_early(client: TestClient, sample: dict[str, str]) -> None:
    zone = {
        "type": "Feature",
        "datum": "wgs84",
        "properties": {"name": "巨型多边形", "kind": "pond"},
        "geometry": {"type": "Polygon", "coordinates": [_ring(70_000)]},
    }
    response = client.post("/api/v1/hazards", json=zone, headers=auth(sample["planner"]))
    assert response.status_code in (413, 422) and "20,000" in response.json()["detail"], response.text[:300]


# -- 13. slow clients are cut off --------------------------------------------------------------------------------
def test_a_dribbled_body_is_cut_off_with_408(settings: Settings) -> None:
    impatient = settings.model_copy(update={"body_timeout_s": 0.2})
    reached: list[bool] = []

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        reached.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def dribble():
        yield {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.Event().wait()  # the client never sends the rest

    sent: list[dict] = []

    async def run() -> None:
        messages = dribble()

        async def receive():
            return await messages.__anext__()

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "path": "/api/v1/inspections", "headers": [(b"content-length", b"100")]}
        await asyncio.wait_for(BodyLimit(app, impatient)(scope, receive, send), 10)

    asyncio.run(run())
    assert not reached and sent[0]["status"] == 408
    assert b"too slowly" in sent[1]["body"]


def test_serve_sets_timeouts(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from geo_safety import cli

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(k))
    args = cli.build_parser().parse_args(["serve"])
    cli.cmd_serve(args, settings)
    assert seen["timeout_keep_alive"] == settings.keep_alive_s > 0

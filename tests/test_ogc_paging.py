"""OGC query collections page to their true end (issue 15 item 2): no cap at the services' 5,000-row page.

The world is the Beihai sample plus 5,400 never-inspected convenience stores a few metres from six school
gates, loaded through the importer (COPY, links computed as for any file), so more than 5,000 premises are
due on any date. GDAL's OAPIF driver, a standard client, reads the whole collection by following the
``next`` links; its feature count must equal the service's own due list.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.rules import today_local
from geo_safety.ruleset import load_rules
from geo_safety.services import inspections, users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.browser import live_server
from tests.conftest import fresh_sample

EXTRA = 5_400
SCHOOLS = 6


@pytest.fixture(scope="module")
def crowded(session_engine: Engine, data_dir: Path, settings: Settings, tmp_path_factory) -> str:
    """The sample plus ``EXTRA`` due premises; returns an admin token."""
    fresh_sample(session_engine, data_dir)
    with session_engine.connect() as conn:
        gates = conn.execute(
            text(
                "SELECT ST_X(s.geom), ST_Y(s.geom) FROM schools s JOIN districts d ON ST_Within("
                "ST_Buffer(s.geom::geography, 60)::geometry, d.geom) ORDER BY s.id LIMIT :n"
            ),
            {"n": SCHOOLS},
        ).all()
    assert len(gates) == SCHOOLS
    rng = np.random.default_rng(15)
    which = np.arange(EXTRA) % SCHOOLS
    lon = np.array([g[0] for g in gates])[which] + rng.uniform(-2e-4, 2e-4, EXTRA)  # within ~30 m of a gate
    lat = np.array([g[1] for g in gates])[which] + rng.uniform(-2e-4, 2e-4, EXTRA)
    numbers = np.arange(1, EXTRA + 1)
    frame = pd.DataFrame(
        {
            "lon": lon.round(7),
            "lat": lat.round(7),
            "id": [f"PAGE{n:05d}" for n in numbers],
            "name": [f"分页测试便利店{n}" for n in numbers],
            "category": "convenience_store",
            "address": "北海市（测试地址）",
            "license_no": [f"PG-{n:05d}" for n in numbers],
            "status": "open",
        }
    )
    path = tmp_path_factory.mktemp("paging") / "premises.csv"
    frame.to_csv(path, index=False)
    load_file(session_engine, "premises", path, datum="wgs84")
    return users.add_user(session_engine, settings, Actor("t"), "paging-admin", "admin").token


def service_due(engine: Engine) -> dict[str, str]:
    """Every due target today (id → reason), read page by page from the service itself."""
    rules, day, found, offset = load_rules(), today_local(), {}, 0
    while True:
        page = inspections.due(engine, rules, day, None, limit=inspections.MAX_PAGE, offset=offset)["features"]
        found.update({f["id"]: f["properties"]["reason"] for f in page})
        offset += len(page)
        if len(page) < inspections.MAX_PAGE:
            return found


def test_pages_reach_the_true_end_and_counts_are_exact(
    session_engine: Engine, settings: Settings, crowded: str
) -> None:
    expected = service_due(session_engine)
    assert len(expected) > 5_000
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {crowded}"
        url = "/collections/due_inspections/items"
        whole = client.get(url, params={"limit": 10_000}).json()  # one page beyond the service's 5,000
        assert whole["numberMatched"] == len(expected)
        assert whole["numberReturned"] == min(10_000, len(expected))
        assert [f["id"] for f in whole["features"]] == list(expected)[:10_000]  # priority order kept
        last = client.get(url, params={"limit": 1000, "offset": len(expected) - 10}).json()
        assert last["numberReturned"] == 10 and last["numberMatched"] == len(expected)
        assert not [link for link in last["links"] if link["rel"] == "next"]
        beyond = client.get(url, params={"offset": len(expected) + 5}).json()
        assert beyond["numberReturned"] == 0 and beyond["numberMatched"] == len(expected)
        never = sum(reason == "never_inspected" for reason in expected.values())
        filtered = client.get(url, params={"reason": "never_inspected", "limit": 10, "offset": never - 3}).json()
        assert filtered["numberMatched"] == never > 5_000 and filtered["numberReturned"] == 3
        premises = client.get("/collections/premises/items", params={"offset": 10**6}).json()
        assert premises["numberReturned"] == 0 and premises["numberMatched"] == 3_000 + EXTRA


def test_filtered_pages_read_the_whole_list_once_per_change_of_data(
    session_engine: Engine, settings: Settings, crowded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_due = inspections.due

    def counted(*args, **kwargs):
        calls.append(kwargs.get("offset", 0))
        return real_due(*args, **kwargs)

    monkeypatch.setattr(inspections, "due", counted)
    url, box = "/collections/due_inspections/items", "108.5,20.5,110.5,22.5"
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {crowded}"
        first = client.get(url, params={"category": "convenience_store", "limit": 100}).json()
        assert len(calls) == 2  # the whole list: two service pages of 5,000
        second = client.get(url, params={"category": "convenience_store", "bbox": box, "offset": 100}).json()
        assert len(calls) == 2 and second["numberMatched"] == first["numberMatched"] > EXTRA
        with session_engine.begin() as conn:  # any write may have changed the answer: read it afresh
            conn.execute(text("UPDATE premises SET name = name WHERE id = 'PAGE00001'"))
        third = client.get(url, params={"category": "convenience_store"}).json()
        assert len(calls) == 4 and third["numberMatched"] == first["numberMatched"]


def test_gdal_reads_the_whole_due_collection(
    session_engine: Engine, settings: Settings, crowded: str, tmp_path: Path
) -> None:
    out = tmp_path / "due.geojson"
    header = f"Authorization: Bearer {crowded}"
    with live_server(settings) as base:
        copied = subprocess.run(
            [
                *("ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}", "due_inspections"),
                *("-oo", "PAGE_SIZE=2000", "--config", "GDAL_HTTP_HEADERS", header),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        summary = subprocess.run(
            ["ogrinfo", "-so", "-ro", f"OAPIF:{base}", "due_inspections", "--config", "GDAL_HTTP_HEADERS", header],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert copied.returncode == 0, copied.stderr
    assert summary.returncode == 0, summary.stderr
    expected = service_due(session_engine)
    features = json.loads(out.read_text())["features"]
    assert len(features) == len(expected) > 5_000
    assert {f["properties"]["target_id"] for f in features} == set(expected)
    assert f"Feature Count: {len(expected)}" in summary.stdout

"""Programme statistics on a fixture world whose counts are known by hand; district maps; the notebook."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from nbclient import NotebookClient
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.cli import main
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import PROJECT_DIR, Settings
from tests.browser import browser_page, live_server, log_in
from tests.hazard_world import SCHOOL_DAY, zones_frame
from tests.inspection_world import D, write_world
from tests.world import write


def _load(beihai: Engine, tmp_path: Path, extra_ledger: list[tuple[str, str, int, str]] | None = None) -> None:
    """The inspection world and the water zones, with zone histories dated 90 days before D."""
    paths = write_world(tmp_path)
    for layer in ("schools", "school_campuses", "premises", "inspections"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    load_file(beihai, "water_hazards", write(zones_frame(), tmp_path / "zones.geojson"), datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("UPDATE water_hazard_history SET at = :t"), {"t": f"{D - timedelta(days=90)}T09:00+08:00"})
        conn.execute(
            text(
                "UPDATE schools SET full_time_guards = true, closed_campus = true, alarm_linked = true, "
                "video_linked = true WHERE id = 'SA'"
            )
        )
        conn.execute(text("UPDATE schools SET full_time_guards = true WHERE id = 'SK'"))
    if extra_ledger:
        frame = pd.DataFrame(
            [
                {"target_type": t, "target_id": i, "inspected_at": f"{D + timedelta(days=d)}T11:00+08:00", "result": r}
                for t, i, d, r in extra_ledger
            ]
        )
        frame.to_csv(tmp_path / "extra.csv", index=False)
        load_file(beihai, "inspections", tmp_path / "extra.csv", datum="wgs84")


@pytest.fixture
def report_world(beihai: Engine, settings: Settings, tmp_path: Path) -> str:
    _load(
        beihai,
        tmp_path,
        [("premise", "P6", -4, "pass"), ("premise", "P1", -1, "closed"), ("water_hazard", "Z2", -20, "pass")],
    )
    with beihai.begin() as conn:  # Z2 got its lifebuoy and fence 30 days before D
        conn.execute(
            text("UPDATE water_hazards SET lifebuoy = true, fence = true, version = version + 1 WHERE id = 'Z2'")
        )
        conn.execute(
            text("UPDATE water_hazard_history SET at = :t WHERE hazard_id = 'Z2' AND version = 2"),
            {"t": f"{D - timedelta(days=30)}T09:00+08:00"},
        )
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    return users.add_user(beihai, settings, Actor("t"), "viewer", "viewer").token


EXPECTED_HEPU = {
    "premise_inspections": 8,  # P4 −40, P6 −10, P6 −4, P9 −5, P10 −10, P11 −35, P12 −3, P1 −1 (P7 −100, P11 +2 out)
    "zone_inspections": 1,  # Z2 −20
    "premises_inspected": 7,
    "violations_found": 2,  # P6 (tobacco inside the campus) and P12 (lottery at 45 m) failed
    "violations_closed": 1,  # P1 (internet café at 199.6 m) found closed
    "failures": 2,
    "failures_rechecked_on_time": 1,  # P6 re-checked on D−4, due D−3; P12 not yet
    "unguarded_zones": 3,  # Z5, Z6, Z7 on D (a Friday in term); Z2 was fixed on D−30
    "zones_became_guarded": 1,  # Z2
    "schools": 3,
    "schools_compliant": 1,  # SA
    "schools_compliant_pct": 33.3,
    "students_near_unguarded": 2000,  # SC (1200) near Z5, SA (800) 999 m from Z6; Z7 is 1001 m away
}


def test_programme_report_matches_the_hand_count(report_world: str, settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        body = client.get(
            f"/api/v1/reports/programme?from={D - timedelta(days=60)}&to={D}",
            headers={"Authorization": f"Bearer {report_world}"},
        ).json()
    hepu = next(r for r in body["districts"] if r["district_code"] == "450521")
    assert {k: hepu[k] for k in EXPECTED_HEPU} == EXPECTED_HEPU
    others = [r for r in body["districts"] if r["district_code"] != "450521"]
    assert len(others) == 3 and all(r["premise_inspections"] == 0 and r["schools"] == 0 for r in others)
    assert {k: body["total"][k] for k in EXPECTED_HEPU} == EXPECTED_HEPU


def test_report_formats_from_the_command_line(
    report_world: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo_safety import settings as settings_module

    monkeypatch.setenv("GEO_SAFETY_DATABASE_URL", settings.database_url or "")
    settings_module.get_settings.cache_clear()
    try:
        period = ["--from", str(D - timedelta(days=60)), "--to", str(D), "--district", "450521"]
        for fmt in ("csv", "xlsx", "html", "json"):
            out = tmp_path / f"report.{fmt}"
            assert main(["report", *period, "--format", fmt, "--output", str(out)]) == 0
        table = pd.read_excel(tmp_path / "report.xlsx")
        assert (
            table.loc[0, "区县"] == "合浦县" and table.loc[0, "发现违规"] == 2 and table.loc[1, "四项达标率%"] == 33.3
        )
        assert "按期复查" in (tmp_path / "report.html").read_text(encoding="utf-8")
        assert pd.read_csv(tmp_path / "report.csv").loc[0, "未达标水域1公里内学生"] == 2000
        assert main(["report", "--from", str(D), "--to", str(D - timedelta(days=1))]) == 2
    finally:
        settings_module.get_settings.cache_clear()


def test_compliance_layer(report_world: str, settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        body = client.get(
            "/api/v1/schools/compliance?district=450521", headers={"Authorization": f"Bearer {report_world}"}
        ).json()
    lacking = {f["id"]: f["properties"]["lacking"] for f in body["features"]}
    assert lacking == {
        "SK": ["closed_campus", "alarm_linked", "video_linked"],
        "SC": ["full_time_guards", "closed_campus", "alarm_linked", "video_linked"],
    }


@pytest.fixture
def map_world(beihai: Engine, settings: Settings, tmp_path: Path) -> str:
    _load(beihai, tmp_path)
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    return users.add_user(beihai, settings, Actor("t"), "admin", "admin").password or ""


def test_district_map_and_city_overview_in_a_browser(map_world: str, settings: Settings) -> None:
    with live_server(settings) as base, browser_page(1000, 800) as (page, watch):
        log_in(page, base, f"/maps/districts/450521?date={SCHOOL_DAY}", "admin", map_world)
        page.wait_for_selector(".gs-summary")
        assert page.locator("path.gs-hotspot-marker").count() == 3  # Z5, Z2, Z6 on a school day
        assert page.locator("path.gs-violation-marker").count() == 4  # P1, P4, P6, P12 in scope
        assert page.locator("path.gs-due-marker").count() == 1  # P7 (P11 was visited on D+2)
        assert page.locator("path.gs-school-marker").count() == 3
        assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
        summary = page.locator(".gs-summary").inner_text()
        assert "2200" in summary and "违规场所" in summary
        page.goto(f"{base}/maps/districts?date={SCHOOL_DAY}")
        page.wait_for_selector("path.gs-district", state="attached")
        assert page.locator("path.gs-district").count() == 4
        assert watch.console_errors == [] and watch.external_requests == []


def test_all_district_maps_from_the_command_line(
    map_world: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from geo_safety import settings as settings_module

    monkeypatch.setenv("GEO_SAFETY_DATABASE_URL", settings.database_url or "")
    settings_module.get_settings.cache_clear()
    try:
        out = tmp_path / "maps"
        assert main(["map", "districts", "--all", "--date", str(SCHOOL_DAY), "--out-dir", str(out), "--png"]) == 0
    finally:
        settings_module.get_settings.cache_clear()
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            f"district_{c}_{SCHOOL_DAY}.{ext}"
            for c in ("450502", "450503", "450512", "450521")
            for ext in ("html", "png")
        ]
        + [f"city_overview_{SCHOOL_DAY}.html"]
    )
    png = (out / f"district_450521_{SCHOOL_DAY}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert "<script src=" not in (out / f"district_450521_{SCHOOL_DAY}.html").read_text(encoding="utf-8")
    assert "9 files in" in capsys.readouterr().out


def test_notebook_runs_top_to_bottom(map_world: str, settings: Settings, tmp_path: Path) -> None:
    notebook = nbformat.read(PROJECT_DIR / "notebooks" / "district_hotspots.ipynb", as_version=4)
    env = {
        "GEO_SAFETY_DATABASE_URL": settings.database_url or "",
        "GEO_SAFETY_NOTEBOOK_DISTRICT": "450521",
        "GEO_SAFETY_NOTEBOOK_DATE": str(SCHOOL_DAY),
        "GEO_SAFETY_NOTEBOOK_OUT": str(tmp_path),
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(notebook, timeout=180, kernel_name="python3").execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    outputs = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "3 hotspots" in outputs
    assert (tmp_path / f"district_450521_{SCHOOL_DAY}.png").exists()

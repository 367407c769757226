"""The inspection map in headless Chromium: renders offline, right counts, route, no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo_safety.cli import main
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.browser import browser_page, live_server, log_in, wait_until
from tests.inspection_world import EXPECTED_DUE, D, write_world


@pytest.fixture
def world(beihai: Engine, settings: Settings, tmp_path: Path) -> str:
    paths = write_world(tmp_path)
    for layer in ("schools", "school_campuses", "premises", "inspections"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    return users.add_user(beihai, settings, Actor("t"), "hepu", "inspector", ("450521",)).password or ""


def test_today_map_in_a_real_browser(world: str, settings: Settings) -> None:
    with live_server(settings) as base, browser_page() as (page, watch):
        log_in(page, base, f"/maps/inspection/today?date={D}&district=450521", "hepu", world)
        assert page.url.endswith(f"/maps/inspection/today?date={D}&district=450521")  # back where we started
        page.wait_for_selector(".gs-due")
        assert page.locator(".gs-due").count() == len(EXPECTED_DUE)
        assert page.locator(".gs-due.gs-violation").count() == sum(1 for e in EXPECTED_DUE if e[2])
        assert page.locator("path.gs-route").count() == 1
        assert page.locator(".gs-total-due").inner_text() == str(len(EXPECTED_DUE))
        page.wait_for_selector(".folium-map[data-gs-data=drawn]", state="attached")  # the data for the view
        name = page.evaluate("document.querySelector('.folium-map').id")
        draws = int(page.get_attribute(".folium-map", "data-gs-draws") or 0)
        page.evaluate(f"window['{name}'].setZoom(15, {{animate: false}})")  # the rings are drawn from zoom 13
        wait_until(page, f"Number(document.querySelector('.folium-map').dataset.gsDraws) > {draws}")
        assert (
            page.locator("path.gs-buffer").count() == 3
        )  # rings of 200, 100 and 50 m, each dissolved over the schools, cut to the view
        # on a phone the legend starts folded to one button, so the stops are not hidden behind it
        assert page.locator(".gs-legend .gs-fold-body").is_hidden()
        assert page.locator(".gs-legend").bounding_box()["height"] < 60
        page.locator(".gs-legend .gs-fold").click()
        legend = page.locator(".gs-legend").inner_text()
        assert "学校 50 米范围" in legend and "今日检查点" in legend and "行政区界" in legend
        assert "今日巡查" in page.locator(".gs-panel").inner_text()
        page.locator(".gs-due").first.click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert "场所P6" in popup.inner_text() and "整改复查" in popup.inner_text()  # stop 1 is P6
        assert watch.console_errors == []
        assert watch.external_requests == []


def test_anonymous_map_request_goes_to_login(world: str, settings: Settings) -> None:
    with live_server(settings) as base, browser_page() as (page, watch):
        page.goto(base + "/maps/inspection/today")
        assert "/login?next=" in page.url
        assert page.locator("input[name=password]").count() == 1
        assert watch.console_errors == []


def test_cli_map_is_self_contained(world: str, settings: Settings, tmp_path: Path, monkeypatch) -> None:
    from geo_safety import settings as settings_module

    monkeypatch.setenv("GEO_SAFETY_DATABASE_URL", settings.database_url or "")
    settings_module.get_settings.cache_clear()
    try:
        out = tmp_path / "today.html"
        assert main(["map", "today", "--district", "450521", "--date", str(D), "-o", str(out)]) == 0
    finally:
        settings_module.get_settings.cache_clear()
    html = out.read_text(encoding="utf-8")
    assert "<script src=" not in html and "stylesheet" not in html
    with browser_page() as (page, watch):
        page.goto(out.as_uri())
        page.wait_for_selector(".gs-due")
        assert page.locator(".gs-due").count() == len(EXPECTED_DUE)
        assert watch.console_errors == [] and watch.external_requests == []


def test_planner_draws_saves_and_finds_the_zone_after_reload(
    beihai: Engine, settings: Settings, tmp_path: Path
) -> None:
    from tests.hazard_world import zones_frame
    from tests.world import write

    paths = write_world(tmp_path)
    load_file(beihai, "schools", paths["schools"], datum="wgs84")
    load_file(beihai, "water_hazards", write(zones_frame(), tmp_path / "zones.geojson"), datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    password = users.add_user(beihai, settings, Actor("t"), "planner", "planner").password or ""
    with live_server(settings) as base, browser_page(1000, 800) as (page, watch):
        log_in(page, base, "/maps/hazards?district=450521", "planner", password)
        page.wait_for_selector("path.gs-zone", state="attached")
        zones_before = page.locator("path.gs-zone").count()
        assert zones_before == 7
        name = page.evaluate("document.querySelector('.folium-map').id")
        wait_until(page, f"!window['{name}']._animatingZoom")
        page.evaluate(f"window['{name}'].setView([21.6655, 109.1985], 17, {{animate: false}})")
        box = page.locator(f"#{name}").bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.click(".leaflet-pm-toolbar .leaflet-pm-icon-polygon")  # Leaflet-Geoman's draw tool
        corners = [(cx - 40, cy - 40), (cx + 40, cy - 40), (cx + 40, cy + 40), (cx - 40, cy + 40), (cx - 40, cy - 40)]
        for x, y in corners:
            page.mouse.click(x, y)
            page.wait_for_timeout(120)
        form = page.locator("#gs-hazard-form")
        form.wait_for(state="visible")
        form.locator("[name=kind]").select_option("pit")
        form.locator(".gs-save").click()  # no name yet: refused, and the page says why beside the field
        wait_until(page, "document.getElementById('gs-status').textContent.includes('未保存')")
        assert form.locator("[data-error-for=name]").inner_text() == "请填写名称。"
        form.locator("[name=name]").fill("工地积水坑")
        form.locator("[name=responsible_person]").fill("赵六")
        form.locator(".gs-save").click()
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已保存')")
        page.reload()
        page.wait_for_selector("path.gs-zone", state="attached")
        assert page.locator("path.gs-zone").count() == zones_before + 1
        assert watch.external_requests == []
        assert watch.console_errors == []
    with beihai.connect() as conn:
        row = conn.execute(
            text(
                "SELECT kind, responsible_person, ST_Area(geom::geography) FROM water_hazards WHERE name = '工地积水坑'"
            )
        ).one()
    assert row[0] == "pit" and row[1] == "赵六" and 100 < row[2] < 20000


def test_hotspot_map_in_a_real_browser(beihai: Engine, settings: Settings, tmp_path: Path) -> None:
    from tests.hazard_world import EXPECTED_SCHOOL_DAY, SCHOOL_DAY, zones_frame
    from tests.world import write

    paths = write_world(tmp_path)
    for layer in ("schools", "school_campuses"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    load_file(beihai, "water_hazards", write(zones_frame(), tmp_path / "zones.geojson"), datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    password = users.add_user(beihai, settings, Actor("t"), "viewer", "viewer").password or ""
    with live_server(settings) as base, browser_page(1000, 800) as (page, watch):
        log_in(page, base, f"/maps/hotspots/drowning?date={SCHOOL_DAY}&district=450521", "viewer", password)
        page.wait_for_selector("path.gs-hotspot-marker", state="attached")
        assert page.locator("path.gs-hotspot-marker").count() == len(EXPECTED_SCHOOL_DAY)
        assert page.locator(".gs-hotspot-count").inner_text() == str(len(EXPECTED_SCHOOL_DAY))
        assert page.locator("path.gs-school-ring").count() == 2  # SA and SC threaten/are threatened
        assert watch.console_errors == [] and watch.external_requests == []

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
from tests.browser import browser_page, live_server, log_in
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
        assert page.locator("path.gs-buffer").count() == 3 * 3  # three schools, rings of 200, 100 and 50 m
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

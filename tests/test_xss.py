"""Stored text never runs as script: every text field of every layer holds a payload, every map page and
every file the command line writes is opened in Chromium, every popup and tooltip is opened, and the
text shows exactly as typed while no payload runs. A second test removes the escaping on purpose to show
that the pages' Content-Security-Policy alone still stops an injected script.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import folium
import pytest
from sqlalchemy import Engine, text

from geo_safety.cli import main
from geo_safety.maps.controls import HtmlControl
from geo_safety.maps.page import render_page
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import browser_page, live_server, log_in, wait_until
from tests.conftest import fresh_sample

#: One string that would run in an HTML context, an attribute, a script block and a JS template literal.
PAYLOAD = (
    "<img src=x onerror=\"window.__xss='img'\">"
    "</script><script>window.__xss='script'</script>"
    "${window.__xss='template'}"
    "'\"><svg onload=\"window.__xss='svg'\">"
)
TEXT_COLUMNS = {
    "districts": ("name",),
    "schools": ("name", "address"),
    "premises": ("name", "address", "license_no"),
    "water_hazards": ("name", "owner", "responsible_unit", "responsible_person", "phone"),
}
#: Click and hover every feature on the map (as a person would), collecting each popup's and tooltip's text.
OPEN_EVERYTHING = """() => {
  const map = window[document.querySelector('.folium-map').id];
  const texts = [];
  map.eachLayer(layer => {
    if (layer.getLayers) { return; }  // groups: their features are visited themselves
    const at = layer.getLatLng ? layer.getLatLng() : (layer.getBounds ? layer.getBounds().getCenter() : null);
    if (!at) { return; }
    layer.fire('click', {latlng: at}, true);
    layer.fire('mouseover', {latlng: at}, true);
    document.querySelectorAll('.leaflet-popup-content, .leaflet-tooltip').forEach(el => texts.push(el.textContent));
    layer.fire('mouseout', {latlng: at}, true);
  });
  return {opened: texts.length, texts};
}"""


@pytest.fixture(scope="module")
def poisoned(session_engine: Engine, data_dir: Path, settings: Settings) -> Iterator[str]:
    """The Beihai sample with the payload in every text column (ids and codes keep their shape)."""
    fresh_sample(session_engine, data_dir)
    with session_engine.begin() as conn:
        for table, columns in TEXT_COLUMNS.items():
            assignments = ", ".join(f"{c} = :p || ' ' || coalesce({c}, '')" for c in columns)
            conn.execute(text(f"UPDATE {table} SET {assignments}"), {"p": PAYLOAD})
    yield users.add_user(session_engine, settings, Actor("t"), "xss-admin", "admin").password or ""


#: pages whose features are data layers (mapdata.js): their data is drawn after ``load``
DATA_PAGES = ("/maps/inspection/today", "/maps/hotspots/drowning", "/maps/districts/")


def _assert_inert(page, watch, min_opened: int, data_layers: bool = False) -> None:
    wait_until(page, "!!(document.querySelector('.folium-map') && window[document.querySelector('.folium-map').id])")
    if data_layers:  # wait until the data layers (and a district's counts) are drawn, then open them all
        wait_until(page, "document.querySelector('.folium-map').dataset.gsData === 'drawn'")
        if page.locator(".gs-summary-slot").count():
            page.wait_for_selector(".gs-summary")
            assert page.locator(".gs-summary").count() == 1
    result = page.evaluate(OPEN_EVERYTHING)
    assert result["opened"] >= min_opened
    assert any(PAYLOAD in t for t in result["texts"]), "the stored text is shown as typed"
    if data_layers:  # not only the boundary's name: the features drawn from data show it too
        assert sum(PAYLOAD in t for t in result["texts"]) >= 2
    assert page.evaluate("window.__xss") is None
    assert page.locator("body img[src=x], body svg[onload]").count() == 0
    assert watch.console_errors == []  # nothing refused by the policy either: the page's own code all runs
    assert watch.external_requests == []


@pytest.mark.parametrize(
    "path",
    [
        "/maps/inspection/today",
        "/maps/hotspots/drowning?date=2026-07-18",
        "/maps/districts/450521?date=2026-07-18",
        "/maps/districts?date=2026-07-18",
        "/maps/hazards",
        "/collections/premises/items?f=html&limit=20",
    ],
)
def test_served_maps_show_payloads_as_text(poisoned: str, settings: Settings, path: str) -> None:
    with live_server(settings) as base, browser_page(1000, 800) as (page, watch):
        log_in(page, base, "/login?next=" + quote(path), "xss-admin", poisoned)
        page.goto(base + path)
        response = page.request.get(base + path)
        policy = response.headers["content-security-policy"]
        script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
        _assert_inert(page, watch, min_opened=1, data_layers=any(p in path for p in DATA_PAGES))


def test_cli_files_show_payloads_as_text(poisoned: str, settings: Settings, tmp_path: Path, monkeypatch) -> None:
    from geo_safety import settings as settings_module

    monkeypatch.setenv("GEO_SAFETY_DATABASE_URL", settings.database_url or "")
    settings_module.get_settings.cache_clear()
    try:
        assert main(["map", "today", "--district", "450502", "-o", str(tmp_path / "today.html")]) == 0
        assert main(["map", "districts", "--all", "--date", "2026-07-18", "--out-dir", str(tmp_path)]) == 0
    finally:
        settings_module.get_settings.cache_clear()
    files = sorted(tmp_path.glob("*.html"))
    assert len(files) == 6  # today, four districts, the overview
    for file in files:
        html = file.read_text(encoding="utf-8")
        assert 'http-equiv="Content-Security-Policy"' in html and "unsafe-inline" not in html
        with browser_page(1000, 800) as (page, watch):
            page.goto(file.as_uri())
            _assert_inert(page, watch, min_opened=1, data_layers=not file.name.startswith("city_overview"))


def test_the_policy_alone_stops_a_missed_escape(tmp_path: Path) -> None:
    """Remove the escaping on purpose: the injected markup is inserted, but nothing of it runs."""
    fmap = folium.Map(tiles=None, location=[21.5, 109.2])
    fmap.add_child(HtmlControl(f"<div id='raw'>{PAYLOAD}</div>", position="topright"))
    from geo_safety.maps.assets import attach_assets

    attach_assets(fmap, inline=True)
    page_file = tmp_path / "raw.html"
    page_file.write_text(render_page(fmap, "raw").html, encoding="utf-8")
    with browser_page() as (page, watch):
        page.goto(page_file.as_uri())
        page.wait_for_selector("#raw", state="attached")
        page.wait_for_timeout(300)
        assert page.locator("#raw img").count() == 1  # the markup got in …
        assert page.evaluate("window.__xss") is None  # … and did not run
        assert any("Content Security Policy" in e for e in watch.console_errors)

"""The planners' zone editor (issue 16, items 1–3) at 1440×900 in Chromium, and the API's stable error codes.

On the bundled Beihai sample: vertex editing of a stored two-part MultiPolygon and its history, a stale save and
the conflict view, search → zoom and the URL per zone, the form's Chinese messages beside their fields, and no
English on screen but codes and names.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import browser_page, live_server, log_in, wait_until
from tests.conftest import fresh_sample

ZONE = "WH-00036"  # a coast zone stored as a MultiPolygon of two parts
WIDTH, HEIGHT = 1440, 900
#: README pictures are refreshed only on request (GEO_SAFETY_DOCS_PICTURES=1): a test run leaves the tree clean
DOCS = Path(__file__).resolve().parent.parent / "docs" if os.environ.get("GEO_SAFETY_DOCS_PICTURES") else None


@pytest.fixture(scope="module")
def sample(session_engine: Engine, data_dir: Path, settings: Settings) -> Iterator[dict[str, str]]:
    """The Beihai sample with a city-wide planner (password and token), a second planner, a district planner
    and a viewer."""
    fresh_sample(session_engine, data_dir)
    made = {
        name: users.add_user(session_engine, settings, Actor("t"), name, role, districts)
        for name, role, districts in (
            ("planner", "planner", ()),
            ("planner2", "planner", ()),
            ("yinhai", "planner", ("450503",)),
            ("viewer", "viewer", ()),
        )
    }
    secrets = {name: account.password or "" for name, account in made.items()}
    secrets |= {f"{name}_token": account.token or "" for name, account in made.items()}
    yield secrets


def _zone(engine: Engine, zone_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT version, name, district_code, ST_AsGeoJSON(geom) FROM water_hazards WHERE id = :id"),
            {"id": zone_id},
        ).one()
    return {"version": row[0], "name": row[1], "district": row[2], "geometry": json.loads(row[3])}


def _open(page, base: str, path: str, name: str, password: str) -> str:
    log_in(page, base, "/login?next=" + path.replace("#", "%23"), name, password)
    page.goto(base + path)
    page.wait_for_selector("path.gs-zone", state="attached")
    wait_until(page, "window.geoSafetyHazardEditor && window.geoSafetyHazardEditor.state().ready")
    return page.evaluate("document.querySelector('.folium-map').id")


def _state(page) -> dict:
    return page.evaluate("window.geoSafetyHazardEditor.state()")


def _status(page) -> str:
    return page.locator("#gs-status").inner_text()


def _selected(page, zone_id: str) -> None:
    wait_until(
        page,
        f"(s => s.session && s.session.id === '{zone_id}' && s.session.version)(window.geoSafetyHazardEditor.state())",
    )


def _map(page) -> str:
    return "window[document.querySelector('.folium-map').id]"


def _drag_a_vertex(page, dx: int, dy: int) -> None:
    """Drag the first vertex handle that lies on the visible map by (dx, dy) pixels, as a planner would."""
    handles = page.locator(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)")
    for n in range(handles.count()):
        box = handles.nth(n).bounding_box()
        if box and 450 < box["x"] < WIDTH - 60 and 60 < box["y"] < HEIGHT - 60:
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + dx / 2, y + dy / 2, steps=5)
            page.mouse.move(x + dx, y + dy, steps=5)
            page.mouse.up()
            return
    raise AssertionError("no vertex handle on the visible map")


def test_vertex_edit_of_a_stored_multipolygon_shows_in_the_history(
    sample: dict[str, str], settings: Settings, session_engine: Engine
) -> None:
    before = _zone(session_engine, ZONE)
    assert before["geometry"]["type"] == "MultiPolygon" and len(before["geometry"]["coordinates"]) == 2
    vertices = sum(len(ring) - 1 for part in before["geometry"]["coordinates"] for ring in part)
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        _open(page, base, f"/maps/hazards#{ZONE}", "planner", sample["planner"])
        _selected(page, ZONE)
        page.click(".gs-shape-tools [data-tool=vertices]")
        handles = page.locator(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)")
        handles.first.wait_for(state="attached")
        assert handles.count() == vertices  # every vertex of both parts has a handle
        _drag_a_vertex(page, 30, 20)
        wait_until(page, "window.geoSafetyHazardEditor.state().session.shapeChanged")
        assert "有未保存的修改" in _status(page)  # no stale green "saved" while the shape differs
        if DOCS is not None:
            page.screenshot(path=str(DOCS / "zone-editor.png"))
        page.click(".gs-save")
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已保存')")
        assert _status(page).startswith(f"已保存 {ZONE}，第 2 版（修改了形状）")
        assert "2 个部分" in _status(page)
        after = _zone(session_engine, ZONE)
        assert after["version"] == 2 and len(after["geometry"]["coordinates"]) == 2
        old, new = shapely.geometry.shape(before["geometry"]), shapely.geometry.shape(after["geometry"])
        assert not old.equals(new) and new.is_valid
        assert 0.5 < new.area / old.area < 2  # one vertex moved, not a different zone

        page.click(".gs-hz-tabs [data-tab=history]")
        latest = page.locator(".gs-hz-history-list li").first
        latest.wait_for()
        assert latest.get_attribute("data-version") == "2"
        text_ = latest.inner_text()
        assert "第 2 版 · 修改" in text_ and "（北京时间）" in text_ and "planner" in text_ and "形状" in text_
        history = page.evaluate(
            f"fetch('/api/v1/hazards/{ZONE}/history', {{credentials: 'same-origin'}}).then(r => r.json())"
        )
        assert shapely.geometry.shape(history[-1]["new_values"]["geometry"]).equals(new)
        assert page.locator("#gs-hz-history-map path.gs-history-old").count() == 1
        assert page.locator("#gs-hz-history-map path.gs-history-new").count() == 1
        if DOCS is not None:
            page.screenshot(path=str(DOCS / "zone-history.png"))
        assert watch.console_errors == [] and watch.external_requests == []


def test_a_stale_edit_shows_both_versions_and_reloads(
    sample: dict[str, str], settings: Settings, session_engine: Engine
) -> None:
    zone = "WH-00051"
    stored = _zone(session_engine, zone)
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        _open(page, base, f"/maps/hazards#{zone}", "planner", sample["planner"])
        _selected(page, zone)
        page.fill("#gs-f-name", "我改的名称")
        with TestClient(create_app(settings)) as client:  # meanwhile a colleague moves and renames it
            moved = shapely.affinity.translate(shapely.geometry.shape(stored["geometry"]), 0.0004, 0.0003)
            answer = client.patch(
                f"/api/v1/hazards/{zone}",
                headers={"Authorization": f"Bearer {sample['planner2_token']}", "If-Match": f'"{stored["version"]}"'},
                json={"properties": {"name": "同事改的名称"}, "geometry": shapely.geometry.mapping(moved)},
            )
            assert answer.status_code == 200, answer.text
        page.click(".gs-save")
        wait_until(page, "window.geoSafetyHazardEditor.state().conflict")
        assert page.locator("#gs-hz-conflict").is_visible()
        box = page.locator("#gs-hz-conflict").inner_text()
        assert "planner2" in box and f"第 {stored['version'] + 1} 版" in box and f"第 {stored['version']} 版" in box
        assert "名称：我的 我改的名称；已存 同事改的名称" in box
        assert "version.stale" in _status(page)
        assert page.locator("path.gs-conflict-stored").count() == 1  # the stored shape beside mine
        mine = page.locator(f"path.gs-zone[data-zone='{zone}']")
        assert mine.get_attribute("stroke") == "#e67e22" and mine.get_attribute("stroke-dasharray") == "6 4"
        page.click(".gs-conflict-reload")
        assert page.locator("#gs-hz-conflict").is_hidden()
        assert page.locator("path.gs-conflict-stored").count() == 0
        assert page.input_value("#gs-f-name") == "同事改的名称"
        assert page.locator(".gs-hz-form-version").inner_text() == f"第 {stored['version'] + 1} 版"
        assert "已载入最新的第" in _status(page)
        page.fill("#gs-f-depth_m", "3.5")  # and now a save on top of the colleague's version
        page.click(".gs-save")
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已保存')")
        assert _status(page).startswith(f"已保存 {zone}，第 {stored['version'] + 2} 版（修改了水深（米））")
        assert [e for e in watch.console_errors if "412" not in e] == []
    final = _zone(session_engine, zone)
    assert final["name"] == "同事改的名称" and final["version"] == stored["version"] + 2


def test_search_zooms_to_the_zone_and_the_view_is_kept(
    sample: dict[str, str], settings: Settings, session_engine: Engine
) -> None:
    zone = "WH-00140"
    name = _zone(session_engine, zone)["name"]
    with session_engine.connect() as conn:
        coasts = conn.execute(text("SELECT count(*) FROM water_hazards WHERE kind = 'coast'")).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM water_hazards")).scalar_one()
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        _open(page, base, "/maps/hazards", "viewer", sample["viewer"])
        rows = page.locator("#gs-hz-list tbody tr")
        wait_until(page, f"document.querySelectorAll('#gs-hz-list tbody tr').length === {total}")
        page.select_option("#gs-hz-list [name=f_kind]", "coast")
        assert rows.count() == coasts
        page.select_option("#gs-hz-list [name=f_kind]", "")
        page.select_option("#gs-hz-list [name=f_missing]", "lifebuoy")
        assert 0 < rows.count() < total and all("缺" in rows.nth(n).inner_text() for n in range(rows.count()))
        page.select_option("#gs-hz-list [name=f_missing]", "")
        page.click("#gs-hz-list th [data-sort=id]")
        page.click("#gs-hz-list th [data-sort=id]")  # descending
        assert rows.first.get_attribute("data-zone") == max(
            page.evaluate("[...document.querySelectorAll('#gs-hz-list tbody tr')].map(r => r.dataset.zone)")
        )
        page.fill("#gs-hz-list [name=q]", name)
        assert rows.count() == 1
        rows.first.click()
        _selected(page, zone)
        m = _map(page)
        assert page.evaluate(f"{m}.getZoom()") >= 15
        assert page.evaluate(f"{m}.getBounds().contains(window.geoSafetyHazardEditor.layer('{zone}').getBounds())")
        assert page.url.endswith(f"/maps/hazards#{zone}")
        assert page.locator("#gs-f-name").is_disabled()  # a viewer reads, the form is not for writing
        view = page.evaluate(f"[{m}.getCenter().lat, {m}.getCenter().lng, {m}.getZoom()]")
        page.goto(base + "/maps/hazards")  # the same page without the zone: the view is remembered
        page.wait_for_selector("path.gs-zone", state="attached")
        wait_until(page, f"Math.abs({_map(page)}.getCenter().lat - {view[0]}) < 1e-6")
        assert page.evaluate(f"{_map(page)}.getZoom()") == view[2]
        page.goto(base + f"/maps/hazards?zone={zone}")  # the URL per zone, as a query
        _selected(page, zone)
        assert watch.console_errors == [] and watch.external_requests == []


def test_form_messages_are_chinese_and_beside_their_fields(
    sample: dict[str, str], settings: Settings, session_engine: Engine
) -> None:
    zone = "WH-00140"
    version = _zone(session_engine, zone)["version"]
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        _open(page, base, f"/maps/hazards#{zone}", "planner", sample["planner"])
        _selected(page, zone)
        page.fill("#gs-f-name", "")
        page.fill("#gs-f-depth_m", "-3")
        page.fill("#gs-f-phone", "call me")
        page.click(".gs-patrol-add")
        row = page.locator(".gs-patrol").last
        row.locator("[data-key=valid_from]").fill("2026-05-01")
        row.locator("[data-key=valid_to]").fill("2026-04-01")
        page.click(".gs-save")
        beside = {
            "[data-field=name]": "请填写名称。",
            "[data-field=depth_m]": "水深应为 0 到 9999 米之间的数字。",
            "[data-field=phone]": "联系电话只能包含数字、空格、+、-、括号或“转”。",
        }
        for field, message in beside.items():
            assert page.locator(f"#gs-hazard-form {field} .gs-field-error").inner_text() == message
            assert "gs-invalid" in (page.locator(f"#gs-hazard-form {field}").get_attribute("class") or "")
        assert row.locator("[data-error-for=valid_to]").inner_text() == "截止日期不能早于起始日期。"
        assert row.locator("[data-error-for=weekdays]").inner_text() == "请至少选择一天，或勾选节假日巡查。"
        assert "未保存" in _status(page)
        assert _zone(session_engine, zone)["version"] == version  # nothing was sent
        row.locator(".gs-day").nth(5).click()  # 六
        row.locator("[data-key=valid_to]").fill("2026-06-30")
        page.fill("#gs-f-name", "示例海岸（已核实）")
        page.fill("#gs-f-depth_m", "")
        page.fill("#gs-f-phone", "0779-5550140")
        # the server's checks have codes too: shrink the shape to a sliver of about 1 m²
        page.evaluate(
            f"(() => {{ const l = window.geoSafetyHazardEditor.layer('{zone}'); const c = l.getBounds().getCenter();"
            " l.setLatLngs([[[c, [c.lat + 0.00001, c.lng], [c.lat, c.lng + 0.00001]]]]); l.fire('pm:edit'); })()"
        )
        page.click(".gs-save")
        slot = page.locator("#gs-hazard-form .gs-shape-tools [data-error-for=geometry]")
        wait_until(page, "document.querySelector('.gs-shape-tools [data-error-for=geometry]').textContent !== ''")
        assert slot.inner_text() == "面积不足 10 平方米，不能作为水域。（错误代码 zone.too_small）"
        page.click(".gs-shape-tools [data-tool=undo-shape]")
        page.click(".gs-save")
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已保存')")
        assert "名称、联系电话" not in _status(page) and "巡查安排" in _status(page) and "名称" in _status(page)
        assert [e for e in watch.console_errors if "422" not in e] == []
    stored = _zone(session_engine, zone)
    assert stored["name"] == "示例海岸（已核实）" and stored["version"] == version + 1


#: words allowed on screen: ids, error codes, names (Leaflet) and units
ALLOWED = re.compile(r"^(WH-[A-Z0-9]+|[a-z_]+(\.[a-z_]+)+|Leaflet|m|km)$")


def _latin_words(page) -> set[str]:
    visible = page.evaluate("document.body.innerText")
    for who in page.evaluate("[...document.querySelectorAll('.gs-who')].map(e => e.innerText)"):
        visible = visible.replace(who, "")  # user names and addresses are data, not the editor's text
    titles = page.evaluate(
        "[...document.querySelectorAll('#gs-hz-side [title], .leaflet-pm-toolbar [title], .leaflet-control-zoom "
        "[title], .gs-home [title]')].map(e => e.title).join(' ')"
    )
    return set(re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", visible + " " + titles))


def test_no_english_in_the_editor_except_codes_and_names(sample: dict[str, str], settings: Settings) -> None:
    seen: dict[str, set[str]] = {}
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        _open(page, base, "/maps/hazards", "planner", sample["planner"])
        seen["list"] = _latin_words(page)
        page.locator("#gs-hz-list tbody tr").first.click()
        wait_until(page, "(s => s.session && s.session.version)(window.geoSafetyHazardEditor.state())")
        page.click(".gs-shape-tools [data-tool=vertices]")
        page.fill("#gs-f-name", "")
        page.click(".gs-save")
        seen["form"] = _latin_words(page)
        page.click(".gs-cancel")
        page.click(".gs-hz-tabs [data-tab=history]")
        page.locator(".gs-hz-history-list li").first.wait_for()
        seen["history"] = _latin_words(page)
        page.click(".leaflet-pm-toolbar .leaflet-pm-icon-polygon")  # drawing a new zone: Geoman's texts
        box = page.locator(".folium-map").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 300, box["y"] + 300)
        page.mouse.move(box["x"] + 360, box["y"] + 320)
        seen["drawing"] = _latin_words(page)
        assert page.locator(".leaflet-pm-actions-container").first.inner_text().strip() != ""
        assert watch.console_errors == []
    print({k: sorted(w for w in v if not w.startswith("WH-")) for k, v in seen.items()})  # for the record
    for view, words in seen.items():
        assert {w for w in words if not ALLOWED.match(w)} == set(), view


# -- stable error codes of the API ------------------------------------------------------------------------
def _feature(**change: object) -> dict:
    zone = shapely.Polygon([(109.195, 21.665), (109.196, 21.665), (109.196, 21.666), (109.195, 21.666)])
    feature = {
        "type": "Feature",
        "datum": "wgs84",
        "geometry": shapely.geometry.mapping(zone),
        "properties": {"name": "测试水域", "kind": "pond"},
    }
    props = change.pop("properties", None)
    if props is not None:
        feature["properties"] = {**feature["properties"], **props}  # type: ignore[dict-item]
    return {**feature, **change}


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[109.195, 21.665], [109.196, 21.666], [109.196, 21.665], [109.195, 21.666], [109.195, 21.665]]],
}
SLIVER = {
    "type": "Polygon",
    "coordinates": [[[109.195, 21.665], [109.19501, 21.665], [109.195, 21.66501], [109.195, 21.665]]],
}
FAR = {"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.01, 39.0], [116.01, 39.01], [116.0, 39.0]]]}
CREATE_CASES = [
    ({"properties": {"name": None}}, 422, "validation.name.required"),
    ({"properties": {"kind": "lake"}}, 422, "validation.kind"),
    ({"properties": {"depth_m": -1}}, 422, "validation.depth_m"),
    (
        {"properties": {"patrols": [{"valid_from": "2026-05-01", "valid_to": "2026-04-01", "weekdays": [6]}]}},
        422,
        "validation.patrols",
    ),
    ({"geometry": BOWTIE}, 422, "zone.invalid_geometry"),
    ({"geometry": SLIVER}, 422, "zone.too_small"),
    ({"geometry": FAR}, 422, "zone.outside_service_area"),
    ({"geometry": {"type": "Point", "coordinates": [109.195, 21.665]}}, 422, "zone.geometry_type"),
    ({"datum": "mars"}, 422, "validation.datum"),
]


@pytest.mark.parametrize(("change", "status", "code"), CREATE_CASES)
def test_zone_refusals_carry_stable_codes(
    sample: dict[str, str], settings: Settings, change: dict, status: int, code: str
) -> None:
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/api/v1/hazards", headers={"Authorization": f"Bearer {sample['planner_token']}"}, json=_feature(**change)
        )
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code and answer.json()["detail"]


def test_version_scope_and_access_codes(sample: dict[str, str], settings: Settings) -> None:
    def auth(name: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {sample[name + '_token']}", **extra}

    with TestClient(create_app(settings)) as client:
        made = client.post("/api/v1/hazards", headers=auth("planner"), json=_feature())
        assert made.status_code == 201, made.text
        zid = made.json()["id"]
        url = f"/api/v1/hazards/{zid}"
        body = {"properties": {"lifebuoy": True}}
        cases = [
            (client.patch(url, headers=auth("planner"), json=body), 428, "version.required"),
            (client.patch(url, headers=auth("planner", **{"If-Match": "v1"}), json=body), 422, "version.malformed"),
            (client.patch(url, headers=auth("planner", **{"If-Match": '"9"'}), json=body), 412, "version.stale"),
            (client.patch(url, headers=auth("planner"), json={**body, "version": 9}), 409, "version.stale"),
            (
                client.patch(url, headers=auth("planner", **{"If-Match": '"1"'}), json={"properties": {"id": "x"}}),
                422,
                "validation.unknown_property",
            ),
            (client.patch(url, headers=auth("yinhai", **{"If-Match": '"1"'}), json=body), 404, "zone.not_found"),
            (client.post("/api/v1/hazards", headers=auth("yinhai"), json=_feature()), 403, "zone.outside_scope"),
            (client.post("/api/v1/hazards", headers=auth("viewer"), json=_feature()), 403, "auth.forbidden"),
            (client.get("/api/v1/hazards/WH-nope", headers=auth("viewer")), 404, "zone.not_found"),
            (client.get("/api/v1/hazards/x", headers={"Authorization": "Bearer wrong"}), 401, "auth.unauthenticated"),
            (client.get("/api/v1/no-such-thing", headers=auth("viewer")), 404, "not_found"),
        ]
        assert client.delete(url, headers=auth("planner", **{"If-Match": '"1"'})).status_code == 204
        cases.append((client.get(url, headers=auth("planner")), 404, "zone.deleted"))
    for answer, status, code in cases:
        assert (answer.status_code, answer.json().get("code")) == (status, code), answer.text
    assert cases[2][0].json()["current_version"] == 1  # the stale answer still says which version is stored


def _pixel(page, zone_id: str, lon: float, lat: float) -> tuple[float, float]:
    """Page pixel position of a point on the map."""
    x, y = page.evaluate(
        f"(() => {{ const m = window.geoSafetyHazardEditor.layer('{zone_id}')._map;"
        f" const p = m.latLngToContainerPoint([{lat}, {lon}]); const r = m.getContainer().getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()"
    )
    return x, y


def _draw_triangle(page, x: float, y: float, size: float) -> None:
    for dx, dy in ((0, -size), (size, size), (-size, size), (0, -size)):
        page.mouse.click(x + dx, y + dy)
        page.wait_for_timeout(120)


def test_holes_and_parts_are_added_and_removed_and_the_zone_moves(
    sample: dict[str, str], settings: Settings, session_engine: Engine
) -> None:
    zone = ZONE  # two parts
    before = _zone(session_engine, zone)
    inside = [part.representative_point() for part in shapely.geometry.shape(before["geometry"]).geoms]
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        _open(page, base, f"/maps/hazards#{zone}", "planner", sample["planner"])
        _selected(page, zone)
        page.evaluate(f"window.geoSafetyHazardEditor.layer('{zone}')._map.setZoom(18, {{animate: false}})")
        x, y = _pixel(page, zone, inside[0].x, inside[0].y)
        page.click(".gs-shape-tools [data-tool=add-hole]")
        _draw_triangle(page, x, y, 20)
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已添加一个洞')")
        assert "1 个洞" in page.locator(".gs-shape-info").inner_text()
        page.click(".gs-shape-tools [data-tool=remove-part]")
        page.mouse.click(x, y + 2)  # inside the hole
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已删除一个洞')")
        page.click(".gs-shape-tools [data-tool=remove-part]")
        page.mouse.click(*_pixel(page, zone, inside[1].x, inside[1].y))
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已删除一个部分')")
        assert page.locator(".gs-shape-info").inner_text().startswith("当前形状：1 个部分")
        page.click(".gs-shape-tools [data-tool=add-part]")
        _draw_triangle(page, x - 300, y, 40)
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已添加一个部分')")
        page.click(".gs-shape-tools [data-tool=drag]")
        x, y = _pixel(page, zone, inside[0].x, inside[0].y)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 20, y + 10, steps=8)
        page.mouse.up()
        page.click(".gs-save")
        wait_until(page, "document.getElementById('gs-status').textContent.includes('已保存')")
        assert "2 个部分" in _status(page)
        assert watch.console_errors == []
    after = _zone(session_engine, zone)
    assert after["version"] == before["version"] + 1 and len(after["geometry"]["coordinates"]) == 2
    assert not shapely.geometry.shape(after["geometry"]).equals(shapely.geometry.shape(before["geometry"]))

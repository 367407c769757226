"""The inspector's day on a phone (issue 14), in Debian's Chromium at 390×844 with touch, in Chinese:
log in → home → the day's stops; a pass and a fail with a photo from the form; ticked off in place; offline
reload and three visits with photos; back online exactly three stored, a forced resend still three; a
refused visit stays with its reason; navigation links within 0.5 m; nothing covers the open stop; taps ≥ 44 px.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PIL import Image
from sqlalchemy import Engine, text

from geo_safety.crs import Datum, geodesic_distance_m, to_wgs84
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import live_server, phone_page, wait_until
from tests.conftest import fresh_sample

DISTRICT = "450502"
#: Stand near the first stops (海城区 mainland); the phone reports this position.
HERE = (109.12, 21.48)


@pytest.fixture(scope="module")
def inspector(session_engine: Engine, data_dir: Path, settings: Settings) -> str:
    fresh_sample(session_engine, data_dir)
    return users.add_user(session_engine, settings, Actor("t"), "field-wang", "inspector", (DISTRICT,)).password or ""


def _photo(tmp_path: Path, name: str, colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (2400, 1800), colour)  # bigger than the phone sends: it must be resized
    path = tmp_path / name
    image.save(path, "JPEG", quality=90)
    return path


def _stored(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        visits = conn.execute(text("SELECT count(*) FROM inspections WHERE client_id IS NOT NULL")).scalar_one()
        photos = conn.execute(text("SELECT count(*) FROM inspection_photos")).scalar_one()
    return visits, photos


def _stops(page) -> list[tuple[str, str]]:
    return [
        (li.locator(".stop-number").inner_text(), li.get_attribute("data-key") or "")
        for li in page.locator("#stops > li.stop").all()
    ]


def _record(page, key: str, result: str, photo: Path | None = None) -> None:
    page.locator(f'#stops li[data-key="{key}"] .stop-button').tap()
    page.locator("#sheet .record").tap()
    page.locator(f'#visit-form input[name=result][value="{result}"]').check()
    if photo is not None:
        page.set_input_files("#photo-input", str(photo))
        page.locator("#photo-list img").first.wait_for()
    page.locator("#visit-save").tap()
    page.locator("#visit").wait_for(state="hidden")


def _log_in_to_the_day(page, base: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", "field-wang")
    page.fill("input[name=password]", password)
    page.locator("button[type=submit]").tap()
    page.wait_for_load_state("load")
    page.get_by_text("今日巡查", exact=False).first.tap()  # the home page leads to the day's work
    page.wait_for_url(re.compile(r"/app/today"))
    page.locator("#stops > li.stop").first.wait_for()


def test_the_inspectors_day(inspector: str, settings: Settings, session_engine: Engine, tmp_path: Path) -> None:
    with live_server(settings) as base, phone_page(HERE) as (page, watch):
        _log_in_to_the_day(page, base, inspector)
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.title()
        before = _stops(page)
        assert len(before) >= 6
        groups = page.evaluate("() => window.geoSafetyInspector.state.plan.groups.length")
        assert page.locator("#stops > li.group-heading").count() == (groups if groups > 1 else 0)
        assert [int(n) for n, _ in before] == list(range(1, len(before) + 1))

        # tap targets and text sizes of what the inspector touches and reads
        for locator in page.locator(".stop-button, .tabs button, .bar .icon-button").all():
            box = locator.bounding_box()
            assert box and box["height"] >= 44 and box["width"] >= 44
        small = page.evaluate(
            "() => [...document.querySelectorAll('.stop-name, .stop-meta, .stop-distance, .summary')]"
            ".filter(e => parseFloat(getComputedStyle(e).fontSize) < 14).length"
        )
        assert small == 0

        # a stop's sheet: navigation links carry its position in each app's datum, within 0.5 m
        plan = page.evaluate("() => window.geoSafetyInspector.state.plan")
        stop = plan["stops"][0]
        page.locator("#stops > li.stop").first.locator(".stop-button").tap()
        sheet = page.locator("#sheet")
        sheet.wait_for()
        box = sheet.bounding_box()
        assert box is not None
        on_top = page.evaluate(
            "([x, y]) => document.getElementById('sheet').contains(document.elementFromPoint(x, y))",
            [box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 60)],
        )
        assert on_top, "something covers the open stop"
        anchors = sheet.locator("a.link-button").all()
        links = {(a.get_attribute("class") or "").split()[-1]: a.get_attribute("href") for a in anchors}
        amap = parse_qs(urlsplit(links["nav-amap"]).query)["position"][0].split(",")
        baidu_web = stop["nav"]["baidu_web"]
        bd = re.search(r"location=([-\d.]+),([-\d.]+)", unquote(baidu_web))
        geo = re.match(r"geo:([-\d.]+),([-\d.]+)", links["nav-geo"])
        assert bd and geo
        for (lon, lat), datum in (
            ((float(amap[0]), float(amap[1])), Datum.GCJ02),
            ((float(bd.group(2)), float(bd.group(1))), Datum.BD09),
            ((float(geo.group(2)), float(geo.group(1))), Datum.WGS84),
        ):
            back_lon, back_lat = to_wgs84([lon], [lat], datum)
            assert geodesic_distance_m(back_lon[0], back_lat[0], stop["lon"], stop["lat"]) < 0.5, datum
        page.locator("#sheet-close").tap()

        # a pass, and a fail with a photo, from the form
        keys = [k for _, k in before]
        _record(page, keys[0], "pass")
        _record(page, keys[1], "fail", _photo(tmp_path, "fail.jpg", (200, 40, 40)))
        wait_until(page, "document.querySelectorAll('#stops .stop-done').length >= 2")
        assert _stored(session_engine) == (2, 1)
        with session_engine.connect() as conn:
            width, height = conn.execute(text("SELECT width, height FROM inspection_photos")).one()
        assert max(width, height) <= 1600  # resized on the phone
        # a fail never looks like a pass, and the server's off-site warning reaches the inspector
        failed = page.locator(f'#stops li[data-key="{keys[1]}"]')
        assert "result-fail" in (failed.get_attribute("class") or "") and "不合格" in failed.inner_text()
        assert "不合格" not in page.locator(f'#stops li[data-key="{keys[0]}"]').inner_text()
        with session_engine.connect() as conn:
            off_site = conn.execute(
                text(
                    "SELECT off_site FROM inspections WHERE client_id IS NOT NULL "
                    "AND (premise_id = :p OR hazard_id = :p)"
                ),
                {"p": keys[1].split(":", 1)[1]},
            ).scalar_one()
        assert bool(off_site) == (failed.locator(".stop-warning").count() == 1)
        # ticked off in place: the same numbers for the same stops, nothing slid in
        assert _stops(page) == before
        page.reload()
        page.locator("#stops > li.stop").first.wait_for()
        assert _stops(page) == before and page.locator("#stops .stop-done").count() == 2

        # offline: the app opens from the phone, three visits with photos wait in the outbox
        wait_until(page, "navigator.serviceWorker.controller !== null")
        page.context.set_offline(True)
        page.reload()
        page.locator("#stops > li.stop").first.wait_for()
        assert page.locator("#net").inner_text() == "离线"
        for i, key in enumerate(keys[2:5]):
            _record(page, key, "pass", _photo(tmp_path, f"offline-{i}.jpg", (40, 40 + 60 * i, 200)))
        wait_until(page, "document.getElementById('outbox-badge').textContent.startsWith('3 条待上传')")
        assert _stored(session_engine) == (2, 1)
        page.evaluate("() => window.geoSafetyOutbox.all().then(items => window.geoSafetyOutbox.set('copy', items))")
        page.context.set_offline(False)
        page.evaluate("() => window.dispatchEvent(new Event('online'))")
        wait_until(page, "document.getElementById('outbox-badge').hidden")
        assert _stored(session_engine) == (5, 4)

        # a forced resend of the same three (a lost acknowledgement): still three
        page.evaluate(
            "() => window.geoSafetyOutbox.get('copy').then(items => Promise.all(items.map(i => "
            "window.geoSafetyOutbox.put(Object.assign(i, {state: 'pending'})))))"
        )
        page.evaluate("() => window.geoSafetyInspector.sync()")
        wait_until(page, "document.getElementById('outbox-badge').hidden")
        assert _stored(session_engine) == (5, 4)

        # a visit the server refuses stays on the phone with the reason
        closing = next(k for k in keys[5:] if k.startswith("premise:"))
        with session_engine.begin() as conn:
            conn.execute(text("UPDATE premises SET status = 'closed' WHERE id = :id"), {"id": closing.split(":", 1)[1]})
        _record(page, closing, "pass")
        wait_until(page, "document.getElementById('outbox-badge').classList.contains('has-refused')")
        page.locator("#outbox-badge").tap()
        refused = page.locator("#outbox-list .refused")
        assert refused.count() == 1 and "被服务器拒绝" in refused.inner_text()
        assert _stored(session_engine) == (5, 4)
        assert not [e for e in watch.console_errors if "409" not in e and "Failed to load resource" not in e]
        assert watch.external_requests == []


def test_another_district_cannot_see_the_photos(inspector: str, settings: Settings, session_engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from geo_safety.api.app import create_app

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(buf, "JPEG")
    own = users.add_user(session_engine, settings, Actor("t"), "field-li", "inspector", (DISTRICT,)).token
    other = users.add_user(session_engine, settings, Actor("t"), "field-zhao", "inspector", ("450521",)).token
    with TestClient(create_app(settings)) as client:
        plan = client.get("/api/v1/plans/today", headers={"Authorization": f"Bearer {own}"}).json()
        stop = plan["stops"][-1]
        visit = {
            "client_id": "6f1c5c2e-0c1b-4c0e-9a55-0d6b0f7e9a01",
            "target_type": stop["target_type"],
            "target_id": stop["target_id"],
            "result": "pass",
            "inspected_at": "2026-12-02T10:00:00+08:00",
        }
        stored = client.post(
            "/api/v1/visits",
            headers={"Authorization": f"Bearer {own}"},
            data={"visit": json.dumps(visit)},
            files=[("photos", ("p.jpg", buf.getvalue(), "image/jpeg"))],
        )
        assert stored.status_code in (200, 201), stored.text
        url = stored.json()["photos"][0]["url"]
        assert client.get(url, headers={"Authorization": f"Bearer {own}"}).status_code == 200
        assert client.get(url, headers={"Authorization": f"Bearer {other}"}).status_code in (403, 404)

"""Officers' and planners' pages at 1440×900: uploads in the browser, the reports page and its downloads,
printable district maps, and legends that show every symbol as drawn (issue 16, items 4–6)."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.maps.render import split_islands
from geo_safety.maps.styles import HAZARD_KIND_CN as HAZARD_KINDS
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import browser_page, live_server, log_in, wait_until
from tests.hazard_world import SCHOOL_DAY, zones_frame
from tests.inspection_world import D
from tests.test_reports import EXPECTED_HEPU, _load
from tests.world import write

WIDTH, HEIGHT = 1440, 900
FROM, TO = D - timedelta(days=60), D
#: Latin words that may stay on a Chinese page: formats, standards and codes
ALLOWED_LATIN = {
    "excel", "csv", "pdf", "png", "wgs84", "cgcs2000", "gcj-02", "bd-09", "gps", "geojson", "geopackage",
    "shapefile", "zip", "kml", "lon", "lat", "wkt", "utf-8", "gbk", "kb", "id", "name", "kind", "category",
    "students", "school_id", "target_id", "inspected_at", "result", "utm", "km",
}  # fmt: skip


def untranslated(visible: str, data: tuple[str, ...] = ()) -> list[str]:
    r"""Lines of visible text with Latin words that are neither a format, a standard, a code nor data shown.

    >>> untranslated("下载 Excel 表格\nSave file\n坐标系 GCJ-02（高德）\n文件 a.geojson", ("a.geojson",))
    ['Save file']
    """
    allowed = ALLOWED_LATIN | {d.lower() for d in data}
    bad = []
    for line in visible.splitlines():
        words = {w.lower().rstrip(".-") for w in re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", line)}
        if words - allowed:
            bad.append(line.strip())
    return bad


def non_blank(png: bytes) -> float:
    """Share of pixels that are not (near) white."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return float((pixels < 240).mean())


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[bytes]:
    """The PDF's pages as PNG images (poppler's pdftoppm, as a person would look at them)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "file.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(source), str(tmp_path / "page")], check=True)
    return [p.read_bytes() for p in sorted(tmp_path.glob("page*.png"))]


@pytest.fixture
def officer_world(beihai: Engine, settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The report world (合浦县's counts known by hand) and a viewer, an admin and a planner of 合浦县."""
    _load(
        beihai,
        tmp_path,
        [("premise", "P6", -4, "pass"), ("premise", "P1", -1, "closed"), ("water_hazard", "Z2", -20, "pass")],
    )
    with beihai.begin() as conn:
        conn.execute(
            text("UPDATE water_hazards SET lifebuoy = true, fence = true, version = version + 1 WHERE id = 'Z2'")
        )
        conn.execute(
            text("UPDATE water_hazard_history SET at = :t WHERE hazard_id = 'Z2' AND version = 2"),
            {"t": f"{D - timedelta(days=30)}T09:00+08:00"},
        )
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions RESTART IDENTITY CASCADE"))
    viewer = users.add_user(beihai, settings, Actor("t"), "viewer", "viewer")
    admin = users.add_user(beihai, settings, Actor("t"), "admin", "admin")
    planner = users.add_user(beihai, settings, Actor("t"), "hepu-planner", "planner", ("450521",))
    return {
        "viewer": viewer.password or "",
        "viewer_token": viewer.token or "",
        "admin": admin.password or "",
        "admin_token": admin.token or "",
        "planner": planner.password or "",
    }


def _numbers(row: dict) -> dict:
    return {k: row[k] for k in EXPECTED_HEPU}


def test_report_api_answers_every_format(officer_world: dict[str, str], settings: Settings, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {officer_world['viewer_token']}"}
    url = f"/api/v1/reports/programme?from={FROM}&to={TO}"
    with TestClient(create_app(settings)) as client:
        body = client.get(url, headers=auth).json()
        assert _numbers(body["total"]) == EXPECTED_HEPU
        expected = {
            "csv": "text/csv; charset=utf-8",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "html": "text/html; charset=utf-8",
            "pdf": "application/pdf",
        }
        answers = {}
        for fmt, media in expected.items():
            answer = client.get(f"{url}&format={fmt}", headers=auth)
            assert answer.status_code == 200 and answer.headers["content-type"] == media, fmt
            disposition = answer.headers["content-disposition"]
            assert f'filename="programme_{FROM}_{TO}.{fmt}"' in disposition and "filename*=UTF-8''" in disposition
            answers[fmt] = answer
        by_accept = client.get(url, headers={**auth, "Accept": "application/pdf"})
        assert by_accept.headers["content-type"] == "application/pdf"
        assert (
            client.get(url, headers={**auth, "Accept": "text/html,*/*;q=0.8"})
            .headers["content-type"]
            .startswith("text/html")
        )
        assert client.get(url, headers={**auth, "Accept": "*/*"}).json() == body
        district = client.get(f"{url}&district=450521&format=xlsx", headers=auth).headers["content-disposition"]
        assert f"programme_{FROM}_{TO}_450521.xlsx" in district
        chart = client.get(f"/api/v1/reports/programme/chart.png?from={FROM}&to={TO}&chart=violations", headers=auth)
        assert chart.headers["content-type"] == "image/png" and non_blank(chart.content) > 0.01
    sheet = openpyxl.load_workbook(io.BytesIO(answers["xlsx"].content))["工作统计"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("区县代码", "区县", "场所检查次数") and rows[-1][1] == "合计"
    assert answers["csv"].content.startswith("\ufeff区县代码".encode())
    html = answers["html"]
    assert "<script" not in html.text and "style-src 'sha256-" in html.headers["content-security-policy"]
    assert "按期复查" in html.text and "合浦县" in html.text
    pages = pdf_pages(answers["pdf"].content, tmp_path)
    assert len(pages) == 2 and all(non_blank(p) > 0.02 for p in pages)


def test_reports_page_shows_and_downloads_the_report(
    officer_world: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    auth = {"Authorization": f"Bearer {officer_world['viewer_token']}"}
    with TestClient(create_app(settings)) as client:
        api = client.get(f"/api/v1/reports/programme?from={FROM}&to={TO}", headers=auth).json()
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        log_in(page, base, f"/reports?from={FROM}&to={TO}", "viewer", officer_world["viewer"])
        page.wait_for_selector("table.gs-report")
        assert page.locator(".gs-scope").inner_text() == "全市"
        headings = page.locator("table.gs-report thead th").all_inner_texts()
        hepu = page.locator("table.gs-report tbody tr", has_text="合浦县").locator("td").all_inner_texts()
        row = next(r for r in api["districts"] if r["district_code"] == "450521")
        from geo_safety.services.reports import COLUMNS

        for heading, cell in zip(headings[1:], hepu, strict=True):
            key = next(k for k, v in COLUMNS.items() if v == heading)
            assert cell == (f"{row[key]:g}" if isinstance(row[key], float) else str(row[key])), key
        assert page.locator(".gs-charts img").count() == 4
        assert all(page.evaluate("[...document.querySelectorAll('.gs-charts img')].map(i => i.naturalWidth > 300)"))
        with page.expect_download() as info:
            page.click("a.gs-download[data-format=xlsx]")
        xlsx = Path(info.value.path()).read_bytes()
        assert info.value.suggested_filename.endswith(".xlsx")
        rows = list(openpyxl.load_workbook(io.BytesIO(xlsx))["工作统计"].iter_rows(values_only=True))
        columns = [next(k for k, v in COLUMNS.items() if v == h) for h in rows[0]]
        for values in rows[1:]:
            record = dict(zip(columns, values, strict=True))
            source = (
                api["total"]
                if record["name"] == "合计"
                else next(r for r in api["districts"] if r["district_code"] == record["district_code"])
            )
            assert {k: record[k] for k in EXPECTED_HEPU} == {k: source[k] for k in EXPECTED_HEPU}
        with page.expect_download() as info:
            page.click("a.gs-download[data-format=pdf]")
        pages = pdf_pages(Path(info.value.path()).read_bytes(), tmp_path)
        assert len(pages) == 2 and all(non_blank(p) > 0.02 for p in pages)
        with page.expect_download() as info:
            page.click("table.gs-maps tr:has-text('合浦县') a.gs-map-pdf")
        printed = pdf_pages(Path(info.value.path()).read_bytes(), tmp_path / "map")
        assert len(printed) == 1 and non_blank(printed[0]) > 0.05
        with page.expect_download() as info:
            page.click("table.gs-maps tr:has-text('合浦县') a.gs-map-png")
        png = Path(info.value.path()).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(io.BytesIO(png)).size[0] >= 1600
        assert untranslated(page.locator("main").inner_text()) == []
        page.select_option("select[name=district]", "450521")
        page.click(".gs-filter button[type=submit]")
        page.wait_for_selector("table.gs-report")
        assert page.locator(".gs-scope").inner_text() == "合浦县" and "district=450521" in page.url
        assert watch.console_errors == [] and watch.external_requests == []


def test_uploads_in_the_browser_good_and_bad(
    officer_world: dict[str, str], settings: Settings, beihai: Engine, tmp_path: Path
) -> None:
    zones = zones_frame()
    zones["id"] = [f"N{i}" for i in range(len(zones))]
    good = write(zones, tmp_path / "新水域.geojson")
    broken = zones.copy()
    broken.loc[2, "kind"] = "lake"
    bad = write(broken, tmp_path / "bad_zones.geojson")
    with beihai.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM water_hazards")).scalar_one()
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        log_in(page, base, "/login", "hepu-planner", officer_world["planner"])
        page.click("a[href='/imports']")
        page.wait_for_selector("#gs-import")
        assert page.locator("select[name=layer] option").all_inner_texts() == ["危险水域"]  # a planner: zones only
        page.select_option("select[name=datum]", "wgs84")
        page.set_input_files("input.gs-file", str(bad))
        page.click(".gs-start")
        wait_until(page, "document.querySelector('#gs-result .gs-refusal') !== null")
        refusal = {
            th: td
            for th, td in zip(
                page.locator(".gs-refusal th").all_inner_texts(),
                page.locator(".gs-refusal td").all_inner_texts(),
                strict=True,
            )
        }
        assert refusal["文件"] == "bad_zones.geojson" and refusal["编号"] == "N2" and refusal["行"] == "第 3 行"
        assert refusal["字段"] == "类型（kind）" and "lake" in refusal["问题"] and "允许" in refusal["问题"]
        assert "未导入任何数据" in page.locator("#gs-result").inner_text()
        assert page.locator("progress").evaluate("p => p.value") == 100
        shown = ("bad_zones.geojson", "N2", "lake", *HAZARD_KINDS)  # the file's own values and the allowed codes
        assert untranslated(page.locator("main").inner_text(), shown) == []
        page.set_input_files("input.gs-file", str(good))
        page.click(".gs-start")
        wait_until(page, "document.querySelector('#gs-result .gs-ok') !== null")
        assert page.locator("#gs-result .gs-ok").inner_text() == f"已导入 {len(zones)} 行"
        assert untranslated(page.locator("main").inner_text(), (good.name,)) == []
        assert watch.external_requests == []
        assert [e for e in watch.console_errors if "422" not in e] == []  # the refused upload, nothing else
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM water_hazards")).scalar_one() == before + len(zones)
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        log_in(page, base, "/imports", "admin", officer_world["admin"])
        page.wait_for_selector("#gs-import")
        assert page.locator("select[name=layer] option").count() == 5  # an admin: every layer
        assert untranslated(page.locator("main").inner_text()) == []
    with TestClient(create_app(settings)) as client:
        refused = client.get(
            "/imports", headers={"Authorization": f"Bearer {officer_world['viewer_token']}", "Accept": "text/html"}
        )
        assert refused.status_code == 403 and "没有权限" in refused.text


def _legend_pairs(page) -> set[tuple[str, str]]:
    return {
        (fill.lower(), (edge or "").lower())
        for fill, edge in page.evaluate(
            "[...document.querySelectorAll('.gs-legend .gs-sym-dot')].map(s => [s.dataset.fill, s.dataset.edge])"
        )
    }


def _drawn_pairs(page, css: str) -> set[tuple[str, str]]:
    return {
        (fill.lower(), stroke.lower())
        for fill, stroke in page.evaluate(
            f"[...document.querySelectorAll('{css}')].map(p => [p.getAttribute('fill'), p.getAttribute('stroke')])"
        )
    }


def test_legends_show_every_symbol_as_drawn(officer_world: dict[str, str], settings: Settings) -> None:
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        log_in(page, base, f"/maps/districts/450521?date={SCHOOL_DAY}", "admin", officer_world["admin"])
        page.wait_for_selector(".gs-summary")
        legend = _legend_pairs(page)
        for css in (
            "path.gs-violation-marker",
            "path.gs-due-marker",
            "path.gs-hotspot-marker",
            "path.gs-school-marker",
        ):
            drawn = _drawn_pairs(page, css)
            assert drawn and drawn <= legend, (css, drawn, legend)
        # painted as the data says (the swatch's computed colour is the marker's)
        painted = page.evaluate(
            "[...document.querySelectorAll('.gs-legend .gs-sym-dot')].map(s => getComputedStyle(s).backgroundColor)"
        )
        assert all(p.startswith("rgb(") and p != "rgba(0, 0, 0, 0)" for p in painted)
        text_ = page.locator(".gs-legend").inner_text()
        assert "高风险" in text_ and "三分位" in text_ and "待查场所 · 超期未查" in text_ and "颜色=原因" not in text_
        assert untranslated(page.locator(".gs-legend, .gs-panel").first.inner_text()) == []
        # the city overview: one choropleth at a time (radio buttons), each with a legend of numbered classes
        page.goto(f"{base}/maps/districts?date={SCHOOL_DAY}")
        page.wait_for_selector("path.gs-district", state="attached")
        radios = page.locator(".leaflet-control-layers-base input[type=radio]")
        assert radios.count() == 2 and page.locator("path.gs-district").count() == 4
        visible = page.locator(".gs-legend-part:visible")
        assert visible.count() == 1 and "处/万名学生" in visible.inner_text()
        radios.nth(1).check()
        wait_until(page, "document.querySelectorAll('.gs-legend-part:not([hidden])').length === 1")
        assert "超期未查场所" in page.locator(".gs-legend-part:visible").inner_text()
        assert page.locator("path.gs-district").count() == 4  # never both layers blended
        assert watch.console_errors == [] and watch.external_requests == []


def test_island_district_opens_on_the_mainland(officer_world: dict[str, str], settings: Settings) -> None:
    with live_server(settings) as base, browser_page(WIDTH, HEIGHT) as (page, watch):
        log_in(page, base, f"/maps/districts/450502?date={SCHOOL_DAY}", "admin", officer_world["admin"])
        page.wait_for_selector(".gs-islands")
        name = page.evaluate("document.querySelector('.folium-map').id")
        wait_until(page, f"!window['{name}']._animatingZoom")
        assert page.evaluate(f"window['{name}'].getBounds().getSouth()") > 21.3  # 涠洲岛 (21.04) is not in view
        assert "涠洲岛、斜阳岛" in page.locator(".gs-islands").inner_text()
        page.click(".gs-jump:has-text('查看')")
        wait_until(page, f"window['{name}'].getBounds().contains([21.04, 109.115])")
        page.click(".gs-jump:has-text('返回陆地部分')")
        wait_until(page, f"window['{name}'].getBounds().getSouth() > 21.3")
        assert watch.console_errors == [] and watch.external_requests == []


def test_split_islands_of_the_real_boundaries(officer_world: dict[str, str], beihai: Engine) -> None:
    from geo_safety.ruleset import load_rules
    from geo_safety.services.maps import district_data

    data = district_data(beihai, load_rules(None, None), SCHOOL_DAY, "450502")
    mainland, islands = split_islands(data.district)
    assert mainland.bounds[1] > 21.3 and [n for n, _ in islands] == ["涠洲岛、斜阳岛"]
    for code in ("450503", "450512", "450521"):
        assert split_islands(district_data(beihai, load_rules(None, None), SCHOOL_DAY, code).district)[1] == []

"""Issue 14 items 7 and 8: a basemap served by the app itself (the bundled light basemap, or a bureau's MBTiles /
PMTiles file tile by tile) and compressed responses."""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.services.basemap import BasemapFileError, open_tile_file
from geo_safety.settings import Settings
from tests.browser import browser_page, live_server, log_in, wait_until

SETUP = Actor("test-setup", "pytest")
RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 160, 30)


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(out, format="PNG")
    return out.getvalue()


def make_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], **metadata: str) -> Path:
    """A tiny MBTiles file; ``tiles`` is keyed by XYZ (z, x, y) and stored with TMS rows, as the format says."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", list(metadata.items()))
        rows = [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()]
        conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", rows)
    conn.close()
    return path


@pytest.fixture
def accounts(beihai: Engine, settings: Settings) -> dict[str, users.NewCredentials]:
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions, audit_log RESTART IDENTITY CASCADE"))
    return {
        "inspector": users.add_user(beihai, settings, SETUP, "inspector", "inspector", ("450502",)),
        "viewer": users.add_user(beihai, settings, SETUP, "viewer", "viewer"),
    }


def bearer(credentials: users.NewCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.token}"}


@pytest.fixture
def client(settings: Settings, accounts: dict[str, users.NewCredentials]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def mbtiles(tmp_path: Path) -> Path:
    tiles = {(1, 0, 0): png(RED), (1, 0, 1): png(BLUE), (2, 3, 1): png(GREEN)}
    return make_mbtiles(
        tmp_path / "area.mbtiles", tiles, name="北海测试", format="png", minzoom="1", maxzoom="2",
        bounds="108.9,20.9,109.9,21.95", attribution="© 测试局",
    )  # fmt: skip


@pytest.fixture
def file_client(settings: Settings, accounts: dict[str, users.NewCredentials], mbtiles: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"basemap_file": mbtiles}))) as test_client:
        yield test_client


def walk(coordinates: object) -> Iterator[tuple[float, float]]:
    if isinstance(coordinates, list) and coordinates and isinstance(coordinates[0], int | float):
        yield float(coordinates[0]), float(coordinates[1])
    elif isinstance(coordinates, list):
        for part in coordinates:
            yield from walk(part)


def test_bundled_features_land_lines_towns(client: TestClient, accounts, beihai: Engine) -> None:
    response = client.get("/api/v1/basemap/features", headers=bearer(accounts["inspector"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert response.headers["cache-control"] == "private, max-age=86400"
    assert len(response.content) < 300_000
    body = response.json()
    by_class: dict[str, list[dict]] = {}
    for feature in body["features"]:
        by_class.setdefault(feature["properties"]["class"], []).append(feature)
    land = by_class["land"]
    assert {f["properties"]["code"] for f in land} == {"450502", "450503", "450512", "450521"}
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in land)
    assert {f["properties"]["name"] for f in by_class["district_line"]} >= {"海城区", "合浦县"}
    towns = {f["properties"]["name"] for f in by_class["town"]}
    assert {"中街街道", "涠洲镇"} & towns and len(towns) >= 20
    with beihai.connect() as conn:
        extent = "SELECT ST_Extent(geom) AS e FROM districts"
        west, south, east, north = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (" + extent + ") d")
        ).one()
    for feature in body["features"]:
        for lon, lat in walk(feature["geometry"]["coordinates"]):
            assert west - 1e-4 <= lon <= east + 1e-4 and south - 1e-4 <= lat <= north + 1e-4
            assert round(lon, 5) == lon and round(lat, 5) == lat  # compact: ~1 m precision, no more

    etag = response.headers["etag"]
    again = client.get("/api/v1/basemap/features", headers={**bearer(accounts["viewer"]), "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert client.get("/api/v1/basemap/features").status_code == 401


def test_describe_without_a_file(client: TestClient, accounts) -> None:
    info = client.get("/api/v1/basemap", headers=bearer(accounts["inspector"])).json()
    assert info["kind"] == "bundled" and info["tiles_url"] is None
    assert info["features_url"] == "/api/v1/basemap/features"
    absent = client.get("/tiles/1/0/0", headers=bearer(accounts["inspector"]))
    assert absent.status_code == 404 and "GEO_SAFETY_BASEMAP_FILE" in absent.json()["detail"]


def test_mbtiles_tiles_are_served_xyz(file_client: TestClient, accounts) -> None:
    auth = bearer(accounts["inspector"])
    info = file_client.get("/api/v1/basemap", headers=auth).json()
    assert info == {
        "kind": "file", "container": "mbtiles", "tiles_url": "/tiles/{z}/{x}/{y}", "format": "png", "raster": True,
        "minzoom": 1, "maxzoom": 2, "bounds": [108.9, 20.9, 109.9, 21.95], "attribution": "© 测试局",
        "name": "北海测试", "features_url": "/api/v1/basemap/features",
    }  # fmt: skip
    north = file_client.get("/tiles/1/0/0", headers={**auth, "Accept-Encoding": "gzip"})
    assert north.status_code == 200 and north.content == png(RED)  # XYZ y=0 is TMS row 1: the y flip
    assert north.headers["content-type"] == "image/png"
    assert north.headers["cache-control"] == "private, max-age=604800"
    assert "content-encoding" not in north.headers  # PNG is not gzipped again
    assert file_client.get("/tiles/1/0/1", headers=auth).content == png(BLUE)
    assert file_client.get("/tiles/2/3/1", headers=auth).content == png(GREEN)
    missing = file_client.get("/tiles/1/1/1", headers=auth)
    assert missing.status_code == 204 and missing.content == b""
    for bad in ("/tiles/1/2/0", "/tiles/1/0/2", "/tiles/-1/0/0", "/tiles/40/0/0", "/tiles/1/0/0.png"):
        assert file_client.get(bad, headers=auth).status_code in (404, 422), bad
    for attack in ("/tiles/1/0/..%2F..%2Fetc%2Fpasswd", "/tiles/../../etc/passwd", "/tiles/1/0/0%20OR%201=1"):
        response = file_client.get(attack, headers=auth)
        assert response.status_code in (404, 422) and b"root:" not in response.content, attack
    assert file_client.get("/tiles/1/0/0").status_code == 401


def test_gzipped_vector_tiles_keep_their_encoding(tmp_path: Path) -> None:
    raw = b"\x1a\x10fake vector tile" * 100
    tile_file = open_tile_file(make_mbtiles(tmp_path / "v.mbtiles", {(0, 0, 0): gzip.compress(raw)}, format="pbf"))
    tile = tile_file.tile(0, 0, 0)
    assert tile is not None and tile.content_type == "application/x-protobuf" and tile.gzipped
    assert gzip.decompress(tile.data) == raw
    tile_file.close()


def test_pmtiles_raster(tmp_path: Path) -> None:
    tile_mod = pytest.importorskip("pmtiles.tile")
    from pmtiles.writer import Writer

    path = tmp_path / "area.pmtiles"
    with open(path, "wb") as out:
        writer = Writer(out)
        writer.write_tile(tile_mod.zxy_to_tileid(1, 0, 0), png(RED))
        writer.write_tile(tile_mod.zxy_to_tileid(1, 1, 0), png(BLUE))
        header = {
            "tile_type": tile_mod.TileType.PNG, "tile_compression": tile_mod.Compression.NONE,
            "min_lon_e7": 1089000000, "min_lat_e7": 209000000, "max_lon_e7": 1099000000, "max_lat_e7": 219500000,
            "center_zoom": 1, "center_lon_e7": 1093000000, "center_lat_e7": 215000000,
        }  # fmt: skip
        writer.finalize(header, {"attribution": "© PM", "name": "pm"})
    tile_file = open_tile_file(path)
    assert tile_file.describe()["container"] == "pmtiles" and tile_file.format == "png"
    assert tile_file.bounds == pytest.approx((108.9, 20.9, 109.9, 21.95))
    assert tile_file.attribution == "© PM"
    assert tile_file.tile(1, 0, 0).data == png(RED)  # type: ignore[union-attr]
    assert tile_file.tile(1, 1, 0).data == png(BLUE)  # type: ignore[union-attr]
    assert tile_file.tile(1, 1, 1) is None and tile_file.tile(5, 0, 0) is None
    tile_file.close()


def test_bad_files_refused_at_startup(settings: Settings, tmp_path: Path) -> None:
    text_file = tmp_path / "tiles.mbtiles"
    text_file.write_text("not tiles")
    empty = make_mbtiles(tmp_path / "empty.mbtiles", {})
    other_db = tmp_path / "other.mbtiles"
    with sqlite3.connect(other_db) as conn:
        conn.execute("CREATE TABLE t (a)")
    conn.close()
    for bad, reason in (
        (tmp_path / "absent.mbtiles", "is not a file"),
        (text_file, "neither MBTiles"),
        (empty, "holds no tiles"),
        (other_db, "not a readable MBTiles"),
    ):
        with pytest.raises(BasemapFileError, match=reason):
            open_tile_file(bad)
    with (
        pytest.raises(BasemapFileError, match="neither MBTiles"),
        TestClient(create_app(settings.model_copy(update={"basemap_file": text_file}))),
    ):
        pass


def test_tile_file_is_never_written(mbtiles: Path, file_client: TestClient, accounts) -> None:
    before = mbtiles.read_bytes()
    for _ in range(3):
        file_client.get("/tiles/1/0/0", headers=bearer(accounts["inspector"]))
    assert mbtiles.read_bytes() == before


def test_responses_are_compressed(client: TestClient, accounts) -> None:
    response = client.get("/api/v1/basemap/features", headers={**bearer(accounts["viewer"]), "Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < 30_000 < len(response.content)  # ~11 KB of ~74 KB
    assert response.json()["type"] == "FeatureCollection"
    spec = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert spec.headers["content-encoding"] == "gzip" and "paths" in spec.json()
    plain = client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and json.loads(plain.content)["paths"]
    small = client.get("/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers  # under the minimum size


def test_basemap_draws_in_a_browser(settings: Settings, accounts) -> None:
    """A page using geoSafetyBasemap draws land paths and town names under the app's CSP, with no errors."""
    inspector = accounts["inspector"]
    with live_server(settings) as base, browser_page() as (page, watch):
        log_in(page, base, "/login", inspector.name, str(inspector.password))
        page.add_style_tag(url=base + "/static/vendor/leaflet/leaflet.css")
        page.add_style_tag(url=base + "/static/vendor/geo_safety/basemap.css")
        page.add_script_tag(url=base + "/static/vendor/leaflet/leaflet.js")
        page.add_script_tag(url=base + "/static/vendor/geo_safety/basemap.js")
        page.evaluate(
            """() => {
                const div = document.createElement("div");
                div.id = "basemap-test";
                div.style.height = "600px";
                document.body.prepend(div);
                window.testMap = L.map(div).setView([21.48, 109.12], 11);
                window.geoSafetyBasemap(window.testMap, "/api/v1/basemap/features").then((r) => { window.drawn = r; });
            }"""
        )
        wait_until(page, "window.drawn !== undefined")
        assert page.evaluate("window.drawn !== null")
        assert page.locator("#basemap-test.gs-basemap-sea").count() == 1
        assert page.locator(".leaflet-gsBasemap-pane path").count() >= 8  # 4 land + 4 district lines
        labels = page.locator(".gs-basemap-town-label")
        assert labels.count() >= 20 and labels.first.is_visible()
        assert "中街街道" in page.locator(".leaflet-gsBasemapLabels-pane").inner_text()
        page.evaluate("window.testMap.setZoom(8, {animate: false})")
        assert not labels.first.is_visible()  # names only from zoom 10
        colour = page.evaluate("getComputedStyle(document.getElementById('basemap-test')).backgroundColor")
        assert colour == "rgb(207, 227, 241)"
        given = "window.geoSafetyBasemap(window.testMap, {type: 'FeatureCollection', features: []}).then(Boolean)"
        assert page.evaluate(given)  # the GeoJSON itself instead of a URL (self-contained map files)
        assert watch.console_errors == [] and watch.external_requests == []

"""OGC API – Features: the standard's structure, paging, filters, bad parameters, tiles, and GDAL as a client."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import crs
from geo_safety.api.app import create_app
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.browser import live_server
from tests.conftest import fresh_sample

LAYERS = ("districts", "schools", "premises", "water_hazards")
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


@pytest.fixture(scope="module")
def sample_db(session_engine: Engine, data_dir: Path, settings: Settings) -> dict[str, str]:
    fresh_sample(session_engine, data_dir)
    return {
        "admin": users.add_user(session_engine, settings, Actor("t"), "ogc-admin", "admin").token,
        "hepu": users.add_user(session_engine, settings, Actor("t"), "ogc-hepu", "inspector", ("450521",)).token,
    }


@pytest.fixture(scope="module")
def client(settings: Settings, sample_db) -> TestClient:
    with TestClient(create_app(settings)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {sample_db['admin']}"
        yield test_client


def db_count(engine: Engine, table: str) -> int:
    condition = "deleted_at IS NULL" if table == "water_hazards" else "true"
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} WHERE {condition}")).scalar_one()


def test_landing_conformance_and_collections(client: TestClient) -> None:
    landing = client.get("/", headers={"Accept": "application/json"}).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    assert CORE in client.get("/conformance").json()["conformsTo"]
    body = client.get("/collections").json()
    assert [c["id"] for c in body["collections"]] == [*LAYERS, "due_inspections", "drowning_hotspots"]
    for doc in body["collections"]:
        assert {"self", "items"} <= {link["rel"] for link in doc["links"]}
        assert doc["itemType"] == "feature" and len(doc["extent"]["spatial"]["bbox"][0]) == 4
    schools = client.get("/collections/schools").json()
    minx, miny, maxx, maxy = schools["extent"]["spatial"]["bbox"][0]
    assert 108.8 < minx < maxx < 109.8 and 20.9 < miny < maxy < 22.0
    assert "text/html" in client.get("/", headers={"Accept": "text/html"}).headers["content-type"]


@pytest.mark.parametrize("layer", LAYERS)
def test_paging_visits_every_feature_exactly_once(client: TestClient, session_engine: Engine, layer: str) -> None:
    seen: list[str] = []
    url = f"/collections/{layer}/items?limit=700"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("application/geo+json")
        body = page.json()
        assert body["numberReturned"] == len(body["features"]) <= 700
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else ""
        pages += 1
    assert len(seen) == len(set(seen)) == body["numberMatched"] == db_count(session_engine, layer)
    assert pages == -(-len(seen) // 700) or len(seen) == 0


def test_bbox_and_property_filters_match_an_independent_count(client: TestClient) -> None:
    box = (109.05, 21.40, 109.20, 21.52)
    body = client.get(f"/collections/premises/items?bbox={','.join(map(str, box))}&limit=10000").json()
    everything = client.get("/collections/premises/items?limit=10000").json()["features"]
    inside = [f["id"] for f in everything if shapely.box(*box).intersects(shapely.geometry.shape(f["geometry"]))]
    assert sorted(f["id"] for f in body["features"]) == sorted(inside) and inside
    ponds = client.get("/collections/water_hazards/items?kind=pond&limit=1000").json()
    assert ponds["numberMatched"] > 0 and {f["properties"]["kind"] for f in ponds["features"]} == {"pond"}
    recent = client.get("/collections/schools/items?datetime=2000-01-01/..&limit=1").json()
    assert recent["numberMatched"] == client.get("/collections/schools/items?limit=1").json()["numberMatched"]
    assert client.get("/collections/schools/items?datetime=../2000-01-01").json()["numberMatched"] == 0


def test_single_feature_and_datum_extension(client: TestClient) -> None:
    feature = client.get("/collections/schools/items/S45052100001")
    if feature.status_code == 404:  # the id depends on the sample; take the first school instead
        first = client.get("/collections/schools/items?limit=1").json()["features"][0]["id"]
        feature = client.get(f"/collections/schools/items/{first}")
    body = feature.json()
    lon, lat = body["geometry"]["coordinates"]
    gcj = client.get(f"/collections/schools/items/{body['id']}?datum=gcj02").json()["geometry"]["coordinates"]
    expected = crs.wgs84_to_gcj02(lon, lat)
    assert crs.geodesic_distance_m(*gcj, *expected) < 0.01
    assert client.get("/collections/schools/items/NOPE").status_code == 404


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/collections/premises/items?bbox=1,2,3", 400),
        ("/collections/premises/items?bbox=a,b,c,d", 400),
        ("/collections/premises/items?bbox=109,21,108,22", 400),
        ("/collections/premises/items?bbox=109,95,110,96", 400),
        ("/collections/premises/items?limit=-1", 400),
        ("/collections/premises/items?limit=abc", 400),
        ("/collections/premises/items?offset=-5", 400),
        ("/collections/premises/items?colour=red", 400),
        ("/collections/premises/items?name=' OR 1=1 --", 200),
        ("/collections/premises/items?datetime=yesterday", 400),
        ("/collections/premises/items?datum=mars", 400),
        ("/collections/nope/items", 404),
        ("/collections/nope", 404),
        ("/collections/premises/tiles/WebMercatorQuad/3/9/9", 400),
        ("/collections/due_inspections/tiles/WebMercatorQuad/3/1/1", 404),
    ],
)
def test_bad_parameters_are_4xx_with_a_reason(client: TestClient, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["detail"]
    else:
        assert response.json()["numberMatched"] == 0  # an injection attempt is only a value that matches nothing


def test_vector_tiles(client: TestClient) -> None:
    z, x, y = 8, 205, 112  # covers Beihai
    full = client.get(f"/collections/premises/tiles/WebMercatorQuad/{z}/{x}/{y}")
    assert full.status_code == 200 and full.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert len(full.content) > 1000 and b"premises" in full.content
    empty = client.get("/collections/premises/tiles/WebMercatorQuad/8/10/10")
    assert empty.status_code == 200 and empty.content == b""


def test_query_results_are_collections_and_respect_scope(client: TestClient, settings: Settings, sample_db) -> None:
    due = client.get("/collections/due_inspections/items?date=2026-11-20&limit=5").json()
    assert due["numberReturned"] == 5 and due["numberMatched"] > 5
    hot = client.get("/collections/drowning_hotspots/items?date=2026-07-20&kind=pond").json()
    assert "features" in hot, hot
    assert all(f["properties"]["kind"] == "pond" for f in hot["features"])
    with TestClient(create_app(settings)) as other:
        other.headers["Authorization"] = f"Bearer {sample_db['hepu']}"
        body = other.get("/collections/premises/items?limit=10000").json()
        assert {f["properties"]["district_code"] for f in body["features"]} == {"450521"}
        assert other.get("/collections/premises/items?district=450502").status_code == 403
    assert client.get("/collections/premises/items", headers={"Authorization": ""}).status_code == 401


def test_html_forms(client: TestClient) -> None:
    page = client.get("/collections/water_hazards/items?f=html&limit=20")
    assert page.status_code == 200 and "leaflet" in page.text and "cdn" not in page.text.lower()
    assert "危险水域" in client.get("/collections?f=html").text


def test_gdal_copies_every_collection_into_a_geopackage(
    settings: Settings, session_engine: Engine, sample_db, tmp_path: Path
) -> None:
    out = tmp_path / "copy.gpkg"
    with live_server(settings) as base:
        result = subprocess.run(
            [
                "ogr2ogr",
                "-f",
                "GPKG",
                str(out),
                f"OAPIF:{base}",
                *LAYERS,
                "-oo",
                "PAGE_SIZE=1000",
                "--config",
                "GDAL_HTTP_HEADERS",
                f"Authorization: Bearer {sample_db['admin']}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    for layer in LAYERS:
        copied = pyogrio.read_dataframe(out, layer=layer)
        key = "code" if layer == "districts" else "id"
        condition = "deleted_at IS NULL" if layer == "water_hazards" else "true"
        with session_engine.connect() as conn:
            rows = dict(conn.execute(text(f"SELECT {key}, ST_AsBinary(geom) FROM {layer} WHERE {condition}")).all())
        assert len(copied) == len(rows), layer
        for ident, geom in zip(copied[key].astype(str), copied.geometry, strict=True):
            original = shapely.from_wkb(bytes(rows[ident]))
            assert shapely.equals_exact(shapely.normalize(geom), shapely.normalize(original), tolerance=1e-6), ident

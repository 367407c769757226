"""Bad files, database faults, concurrency, limits, security and backups: nothing lost, nothing leaked."""

from __future__ import annotations

import threading
import time
import zipfile
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_safety import crs
from geo_safety.api.app import create_app
from geo_safety.db import make_engine
from geo_safety.errors import ImportRejected
from geo_safety.localdb import LocalCluster
from geo_safety.services import backup, users
from geo_safety.services.audit import Actor
from geo_safety.services.bundled import load_sample
from geo_safety.services.imports import load_file
from geo_safety.settings import Settings
from tests.browser import live_server
from tests.conftest import free_port, table_checksums
from tests.hazard_world import zones_frame
from tests.world import write

CORPUS = Path(__file__).parent / "corpus"


# -- bad files -------------------------------------------------------------------------------------------
CORPUS_CASES = [
    ("premises", "truncated.geojson", {}, r"truncated\.geojson: cannot read"),
    (
        "water_hazards",
        "self_intersecting.geojson",
        {},
        r"row 2, id 'W2', field 'geometry': invalid geometry: "
        r"Self-intersection",
    ),
    ("premises", "mixed_types.geojson", {}, r"row 3, id 'A3', field 'geometry': wrong geometry type LineString"),
    ("premises", "nan_inf.csv", {}, r"row 2, id 'A2', field 'geometry': coordinates are not finite"),
    ("premises", "swapped.csv", {}, r"row 2, id 'A2', field 'geometry': coordinates outside .*swapped"),
    ("premises", "duplicate_ids.csv", {}, r"row 3, id 'A1', field 'id': duplicate id \(also in row 1\)"),
    ("premises", "gbk.csv", {}, r"gbk\.csv, row 1: unreadable encoding.*--encoding gbk"),
    ("premises", "empty.geojson", {}, r"empty\.geojson: the file is empty"),
    ("premises", "unknown_category.csv", {}, r"row 2, id 'A2', field 'category': unknown value 'casino'"),
    ("premises", "missing_name.csv", {}, r"row 2, id 'A2', field 'name': missing required field"),
]


@pytest.mark.parametrize(("layer", "name", "options", "message"), CORPUS_CASES)
def test_corpus_of_bad_files(beihai: Engine, layer: str, name: str, options: dict, message: str) -> None:
    before = table_checksums(beihai)
    with pytest.raises(ImportRejected, match=message):
        load_file(beihai, layer, CORPUS / name, datum="wgs84", **options)
    assert table_checksums(beihai) == before


def test_undeclared_gcj02_file_is_caught(beihai: Engine, tmp_path: Path) -> None:
    lon, lat = crs.wgs84_to_gcj02(109.1288, 21.0255)  # near the coast of 涠洲岛: GCJ-02 pushes it into the sea
    path = tmp_path / "amap_export.csv"
    path.write_text(f"id,name,category,lon,lat\nA1,店一,hotel,109.2,21.66\nA2,店二,hotel,{float(lon)},{float(lat)}\n")
    before = table_checksums(beihai)
    with pytest.raises(
        ImportRejected,
        match=r"row 2, id 'A2', field 'geometry': outside the service area "
        r"\(it falls inside if read as gcj02",
    ):
        load_file(beihai, "premises", path, datum="wgs84")
    assert table_checksums(beihai) == before


def test_zip_bomb_is_refused_before_unpacking(beihai: Engine, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("layer.shp", b"\0" * (300 * 1024 * 1024))  # 300 MB of zeros packs to ~300 KB
        archive.writestr("layer.dbf", b"\0" * 1024)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    before = table_checksums(beihai)
    with pytest.raises(ImportRejected, match=r"refusing a zip that unpacks to .* bytes"):
        load_file(beihai, "premises", bomb, datum="wgs84")
    assert table_checksums(beihai) == before


def test_a_200_mb_file_with_one_bad_row_at_the_end_loads_nothing(beihai: Engine, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    row = (
        "P{:08d},示例商铺名称较长的一家店铺用于测试流式读取,convenience_store,"
        "北海市合浦县廉州镇某某路某某号示例地址,109.{:06d},21.66\n"
    )
    with path.open("w", encoding="utf-8") as out:
        out.write("id,name,category,address,lon,lat\n")
        n = 0
        while out.tell() < 200 * 1024 * 1024:
            out.write("".join(row.format(n + k, 190000 + (n + k) % 20000) for k in range(10_000)))
            n += 10_000
        out.write("BAD,坏行,spaceship,,109.2,21.66\n")
    assert path.stat().st_size >= 200 * 1024 * 1024
    before = table_checksums(beihai)
    with pytest.raises(ImportRejected, match=rf"row {n + 1}, id 'BAD', field 'category'"):
        load_file(beihai, "premises", path, datum="wgs84", chunk_rows=200_000)
    assert table_checksums(beihai) == before


# -- database faults ---------------------------------------------------------------------------------------
def test_database_outage_gives_503_then_recovers_and_imports_stay_whole(tmp_path: Path, data_dir: Path) -> None:
    cluster = LocalCluster(Settings(home=tmp_path / "outage", db_port=free_port()))
    cluster.start()
    try:
        settings = Settings(database_url=cluster.url(), data_dir=data_dir, home=tmp_path / "home")
        from geo_safety import migrate

        engine = make_engine(settings)
        migrate.upgrade(engine)
        load_sample(engine, data_dir)
        admin = users.add_user(engine, settings, Actor("t"), "admin", "admin").token
        big = tmp_path / "shops.csv"
        frame = pd.DataFrame(
            {"id": [f"X{i}" for i in range(300_000)], "name": "店", "category": "hotel", "lon": 109.2, "lat": 21.66}
        )
        frame.to_csv(big, index=False)
        with live_server(settings) as base:
            auth = {"Authorization": f"Bearer {admin}"}
            assert httpx.get(f"{base}/api/v1/inspections/due?limit=5", headers=auth, timeout=30).status_code == 200
            failure: list[BaseException] = []

            def run_import() -> None:
                try:
                    load_file(engine, "premises", big, datum="wgs84", chunk_rows=20_000)
                except BaseException as exc:
                    failure.append(exc)

            worker = threading.Thread(target=run_import)
            worker.start()
            time.sleep(1.5)  # the import is streaming chunks into its transaction
            cluster.stop()
            worker.join(timeout=120)
            down = httpx.get(f"{base}/api/v1/inspections/due?limit=5", headers=auth, timeout=30)
            assert down.status_code == 503 and down.headers["retry-after"]
            assert "Traceback" not in down.text and "psycopg" not in down.text
            assert failure, "the import should have failed with the database"
            cluster.start()
            back = httpx.get(f"{base}/api/v1/inspections/due?limit=5", headers=auth, timeout=30)
            assert back.status_code == 200  # the same server process, no restart
        with make_engine(settings).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM premises WHERE id LIKE 'X%'")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM premises")).scalar_one() == 3000
    finally:
        cluster.destroy()


# -- concurrency --------------------------------------------------------------------------------------------
@pytest.fixture
def zones_world(beihai: Engine, settings: Settings, tmp_path: Path) -> dict[str, str]:
    from tests.inspection_world import write_world

    paths = write_world(tmp_path)
    for layer in ("schools", "premises"):
        load_file(beihai, layer, paths[layer], datum="wgs84")
    load_file(beihai, "water_hazards", write(zones_frame(), tmp_path / "zones.geojson"), datum="wgs84")
    with beihai.begin() as conn:
        conn.execute(text("TRUNCATE users, api_tokens, web_sessions, water_hazard_history RESTART IDENTITY CASCADE"))
    return {
        "planner": users.add_user(beihai, settings, Actor("t"), "planner", "planner").token,
        "inspector": users.add_user(beihai, settings, Actor("t"), "insp", "inspector", ("450521",)).token,
    }


def test_fifty_concurrent_writers_lose_nothing(zones_world: dict[str, str], settings: Settings, beihai: Engine) -> None:
    writers = 50
    barrier = threading.Barrier(writers)
    statuses: list[int] = []
    conflicts: list[int] = []
    with TestClient(create_app(settings)) as client:

        def worker(n: int) -> None:
            barrier.wait()
            response = client.post(
                "/api/v1/inspections",
                json={"target_id": "P1", "result": "pass", "findings": f"writer {n}"},
                headers={"Authorization": f"Bearer {zones_world['inspector']}"},
            )
            statuses.append(response.status_code)
            planner = {"Authorization": f"Bearer {zones_world['planner']}"}
            while True:  # read, edit, write with the version read; on a conflict read again
                version = client.get("/api/v1/hazards/Z2", headers=planner).json()["properties"]["version"]
                edit = client.patch(
                    "/api/v1/hazards/Z2",
                    json={"properties": {"phone": f"0779-{n:07d}"}},
                    headers={**planner, "If-Match": f'"{version}"'},
                )
                if edit.status_code == 200:
                    break
                assert edit.status_code == 412, edit.text
                conflicts.append(n)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [201] * writers
    with beihai.connect() as conn:
        findings = conn.execute(text("SELECT findings FROM inspections WHERE premise_id = 'P1'")).scalars().all()
        version = conn.execute(text("SELECT version FROM water_hazards WHERE id = 'Z2'")).scalar_one()
        history = conn.execute(
            text(
                "SELECT version, new_values ->> 'phone' FROM water_hazard_history "
                "WHERE hazard_id = 'Z2' ORDER BY version"
            )
        ).all()
    assert sorted(findings) == sorted(f"writer {n}" for n in range(writers))  # no loss, no duplicate
    assert version == 1 + writers  # every edit applied once, none overwritten silently
    assert [v for v, _ in history] == list(range(2, 2 + writers))
    assert sorted(p for _, p in history) == sorted(f"0779-{n:07d}" for n in range(writers))


# -- limits and security -------------------------------------------------------------------------------------
def test_limits(zones_world: dict[str, str], settings: Settings, beihai: Engine, tmp_path: Path) -> None:
    planner = {"Authorization": f"Bearer {zones_world['planner']}"}
    with TestClient(create_app(settings)) as client:
        huge = client.post(
            "/api/v1/hazards",
            content=b"{" + b" " * (11 * 1024 * 1024) + b"}",
            headers={**planner, "Content-Type": "application/json"},
        )
        assert huge.status_code == 413 and "10 MB" in huge.json()["detail"]
    small_uploads = settings.model_copy(update={"max_upload_mb": 1})
    before = table_checksums(beihai)
    with TestClient(create_app(small_uploads)) as client:
        blob = b"id,name,category,lon,lat\n" + b"x" * (2 * 1024 * 1024)
        refused = client.post(
            "/api/v1/imports/water_hazards?datum=wgs84", headers=planner, files={"file": ("big.csv", blob)}
        )
        assert refused.status_code == 413
    assert table_checksums(beihai) == before
    impatient = settings.model_copy(update={"statement_timeout_ms": 1})
    with TestClient(create_app(impatient)) as client:
        slow = client.get("/api/v1/hotspots/drowning?radius_m=5000", headers=planner)
        assert slow.status_code == 408 and "too long" in slow.json()["detail"]


INJECTIONS = ["' OR '1'='1", "1; DROP TABLE premises; --", "450521' --", "\\x00", "%27%20OR%201=1", "../../etc/passwd"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_attempts_change_nothing(
    zones_world: dict[str, str], settings: Settings, beihai: Engine, payload: str
) -> None:
    before = table_checksums(beihai)
    auth = {"Authorization": f"Bearer {zones_world['planner']}"}
    urls = [
        f"/api/v1/inspections/due?district={payload}",
        f"/api/v1/inspections/due?date={payload}",
        f"/api/v1/inspections/today?start={payload}",
        f"/api/v1/hotspots/drowning?radius_m={payload}",
        f"/api/v1/hazards/{payload}",
        f"/api/v1/hazards/{payload}/history",
        f"/api/v1/layers/premises?district={payload}",
        f"/collections/premises/items?name={payload}",
        f"/collections/premises/items?bbox={payload}",
        f"/collections/{payload}/items",
        f"/api/v1/reports/programme?from={payload}&to=2026-01-01",
        f"/maps/districts/{payload}",
    ]
    with TestClient(create_app(settings)) as client:
        for url in urls:
            response = client.get(url, headers=auth)
            assert response.status_code < 500, (url, response.status_code, response.text)
        patch = client.patch(
            "/api/v1/hazards/Z2", headers={**auth, "If-Match": '"1"'}, json={"properties": {"name": payload}}
        )
        assert patch.status_code == 200 and patch.json()["properties"]["name"] == payload  # stored as data, verbatim
    after = table_checksums(beihai)
    edited = ("water_hazards", "water_hazard_history", "audit_log", "hazard_school_links")  # the PATCH, and its links
    assert {k: v for k, v in after.items() if k not in edited} == {k: v for k, v in before.items() if k not in edited}
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM premises")).scalar_one() == 12


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/leaflet/../../../../etc/passwd",
        "/static/vendor/leaflet/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/vendor/geo_safety/../../settings.py",
    ],
)
def test_no_path_traversal(settings: Settings, path: str) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get(path)
    assert response.status_code == 404 and "root:" not in response.text and "BaseSettings" not in response.text


def test_security_headers_and_cors(settings: Settings, beihai: Engine) -> None:
    with TestClient(create_app(settings)) as client:
        page = client.get("/login")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "https:" not in csp
        assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
        assert (
            "access-control-allow-origin"
            not in client.options(
                "/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
            ).headers
        )
    allowed = settings.model_copy(update={"cors_origins": ["https://bureau.example"]})
    with TestClient(create_app(allowed)) as client:
        ok = client.options(
            "/api/v1/me", headers={"Origin": "https://bureau.example", "Access-Control-Request-Method": "GET"}
        )
        assert ok.headers["access-control-allow-origin"] == "https://bureau.example"
        other = client.options(
            "/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in other.headers


# -- backups --------------------------------------------------------------------------------------------------
def test_backup_and_restore_round_trip(beihai: Engine, settings: Settings, data_dir: Path, tmp_path: Path) -> None:
    load_sample(beihai, data_dir)
    before = table_checksums(beihai)
    dump = backup.backup(settings, tmp_path / "geo_safety.dump")
    assert dump.read_bytes()[:5] == b"PGDMP"
    with beihai.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM premise_status_history; DELETE FROM inspections; "
                "DELETE FROM premises WHERE category = 'hotel'; UPDATE water_hazards SET name = 'changed'"
            )
        )
    assert table_checksums(beihai) != before
    beihai.dispose()
    backup.restore(settings, dump)
    assert table_checksums(beihai) == before
    bogus = tmp_path / "not-a-dump"
    bogus.write_text("hello")
    with pytest.raises(Exception, match="not a pg_dump"):
        backup.restore(settings, bogus)

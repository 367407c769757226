"""Imports: every format, datum conversion, district assignment, modes, and all-or-nothing rejection."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, text

from geo_safety import crs
from geo_safety.errors import ImportRejected
from geo_safety.services.imports import load_file
from tests.conftest import table_checksums
from tests.world import KNOWN, hazards_frame, premises_frame, square, write

FORMATS = [".geojson", ".gpkg", ".zip", ".kml", ".csv"]


def stored_points(engine: Engine, table: str = "premises") -> dict[str, tuple[float, float, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, ST_X(geom), ST_Y(geom), district_code FROM {table}")).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.parametrize("suffix", FORMATS)
def test_premises_load_from_every_format_with_districts(beihai: Engine, tmp_path: Path, suffix: str) -> None:
    path = write(premises_frame(), tmp_path / f"premises{suffix}")
    result = load_file(beihai, "premises", path, datum="wgs84")
    assert (result.rows_read, result.inserted) == (5, 5)
    stored = stored_points(beihai)
    for pid, (lon, lat, district) in KNOWN.items():
        assert stored[pid][2] == district
        assert crs.geodesic_distance_m(lon, lat, stored[pid][0], stored[pid][1]) < 0.01
    with beihai.connect() as conn:
        row = conn.execute(text("SELECT name, category, status FROM premises WHERE id = 'P-TS'")).one()
    assert tuple(row) == ("彩票站丙", "lottery", "closed")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip", ".kml", ".csv"])
def test_water_hazards_load_polygons_from_every_format(beihai: Engine, tmp_path: Path, suffix: str) -> None:
    path = write(hazards_frame(), tmp_path / f"hazards{suffix}")
    # Shapefile field names stop at 10 characters: the --map option puts them back
    rename = {"responsibl": "responsible_person"} if suffix == ".zip" else {}
    load_file(beihai, "water_hazards", path, datum="wgs84", rename=rename)
    with beihai.connect() as conn:
        rows = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                text(
                    "SELECT id, district_code, GeometryType(geom), lifebuoy, responsible_person, "
                    "ST_Area(geom::geography) FROM water_hazards"
                )
            )
        }
    assert rows["WH-A"][:4] == ("450521", "MULTIPOLYGON", True, "张三")
    assert rows["WH-B"][:4] == ("450512", "MULTIPOLYGON", False, None)
    from pyproj import Geod

    expected_area = abs(Geod(ellps="WGS84").geometry_area_perimeter(square(109.20, 21.66))[0])
    assert rows["WH-A"][4] == pytest.approx(expected_area, rel=1e-3)


def test_gcj02_and_bd09_files_are_converted_to_wgs84(beihai: Engine, tmp_path: Path) -> None:
    frame = premises_frame()
    lon, lat = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    for datum, forward in (("gcj02", crs.wgs84_to_gcj02), ("bd09", crs.wgs84_to_bd09)):
        shifted = frame.copy()
        shifted["geometry"] = shapely.points(*forward(lon, lat))
        load_file(beihai, "premises", write(shifted, tmp_path / f"{datum}.csv"), datum=datum, mode="upsert")
        stored = stored_points(beihai)
        for pid, (true_lon, true_lat, _) in KNOWN.items():
            assert crs.geodesic_distance_m(true_lon, true_lat, *stored[pid][:2]) < 0.5


def test_district_codes_in_the_file_are_ignored(beihai: Engine, tmp_path: Path) -> None:
    frame = premises_frame().assign(district_code="450599")
    result = load_file(beihai, "premises", write(frame, tmp_path / "p.geojson"), datum="wgs84")
    assert "district_code" in result.ignored_columns
    assert {v[2] for v in stored_points(beihai).values()} == {"450502", "450503", "450512", "450521"}


def test_district_assignment_agrees_with_postgis_for_the_sample(beihai: Engine, data_dir: Path) -> None:
    load_file(beihai, "schools", data_dir / "sample/schools.geojson", datum="wgs84")
    with beihai.connect() as conn:
        disagree = conn.execute(
            text(
                "SELECT count(*) FROM schools s JOIN districts d ON ST_Contains(d.geom, s.geom) "
                "WHERE d.code <> s.district_code"
            )
        ).scalar_one()
        outside = conn.execute(
            text(
                "SELECT count(*) FROM schools s WHERE NOT EXISTS "
                "(SELECT 1 FROM districts d WHERE ST_Contains(d.geom, s.geom))"
            )
        ).scalar_one()
    assert (disagree, outside) == (0, 0)


def test_csv_column_mapping(beihai: Engine, tmp_path: Path) -> None:
    frame = premises_frame().rename(columns={"name": "店名", "category": "类别"})
    path = write(frame, tmp_path / "p.csv")
    with pytest.raises(ImportRejected, match="field 'name': missing required field"):
        load_file(beihai, "premises", path, datum="wgs84")
    result = load_file(beihai, "premises", path, datum="wgs84", rename={"店名": "name", "类别": "category"})
    assert result.inserted == 5


# -- modes -----------------------------------------------------------------------------------------
def test_append_rejects_ids_already_stored_and_upsert_updates(beihai: Engine, tmp_path: Path) -> None:
    path = write(premises_frame(), tmp_path / "p.geojson")
    load_file(beihai, "premises", path, datum="wgs84")
    with pytest.raises(ImportRejected, match=r"row 1, id 'P-HC', field 'id': duplicate id: already in the database"):
        load_file(beihai, "premises", path, datum="wgs84")
    changed = premises_frame()
    changed.loc[0, "name"] = "网吧甲（更名）"
    result = load_file(beihai, "premises", write(changed, tmp_path / "p2.geojson"), datum="wgs84", mode="upsert")
    assert (result.inserted, result.updated) == (0, 5)
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT name FROM premises WHERE id='P-HC'")).scalar_one() == "网吧甲（更名）"


def test_replace_removes_missing_rows_but_not_ones_with_history(beihai: Engine, tmp_path: Path) -> None:
    load_file(beihai, "premises", write(premises_frame(), tmp_path / "p.geojson"), datum="wgs84")
    fewer = premises_frame().iloc[:3]
    result = load_file(beihai, "premises", write(fewer, tmp_path / "p3.geojson"), datum="wgs84", mode="replace")
    assert result.deleted == 2
    ledger = pd.DataFrame({"target_id": ["P-HC"], "inspected_at": ["2026-10-01"], "result": ["pass"]})
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    load_file(beihai, "inspections", tmp_path / "ledger.csv", datum="wgs84")
    before = table_checksums(beihai)
    with pytest.raises(ImportRejected, match="still refer to"):
        load_file(beihai, "premises", write(fewer.iloc[1:], tmp_path / "p4.geojson"), datum="wgs84", mode="replace")
    assert table_checksums(beihai) == before


def test_replace_soft_deletes_water_hazards(beihai: Engine, tmp_path: Path) -> None:
    load_file(beihai, "water_hazards", write(hazards_frame(), tmp_path / "h.geojson"), datum="wgs84")
    load_file(
        beihai, "water_hazards", write(hazards_frame().iloc[:1], tmp_path / "h1.geojson"), datum="wgs84", mode="replace"
    )
    with beihai.connect() as conn:
        rows = {
            r[0]: (r[1], r[2])
            for r in conn.execute(text("SELECT id, deleted_at IS NOT NULL, version FROM water_hazards"))
        }
    assert rows == {"WH-A": (False, 2), "WH-B": (True, 2)}


def test_school_campuses_fill_the_campus_column(beihai: Engine, tmp_path: Path) -> None:
    schools = premises_frame().iloc[:2][["id", "name", "geometry"]].assign(kind=["primary", "kindergarten"])
    load_file(beihai, "schools", write(schools, tmp_path / "s.geojson"), datum="wgs84")
    campus = schools[["id", "geometry"]].copy()
    campus["geometry"] = [square(109.118, 21.4825, 0.0005), square(109.14, 21.4305, 0.0004)]
    result = load_file(beihai, "school_campuses", write(campus, tmp_path / "c.geojson"), datum="wgs84")
    assert result.updated == 2
    campus.loc[1, "id"] = "NO-SUCH-SCHOOL"
    with pytest.raises(ImportRejected, match="row 2, id 'NO-SUCH-SCHOOL', field 'id': unknown school id"):
        load_file(beihai, "school_campuses", write(campus, tmp_path / "c2.geojson"), datum="wgs84")


def test_inspection_ledger(beihai: Engine, tmp_path: Path) -> None:
    load_file(beihai, "premises", write(premises_frame(), tmp_path / "p.geojson"), datum="wgs84")
    load_file(beihai, "water_hazards", write(hazards_frame(), tmp_path / "h.geojson"), datum="wgs84")
    ledger = pd.DataFrame(
        {
            "target_id": ["P-HC", "WH-A", "P-YH"],
            "inspected_at": ["2026-10-01", "2026-10-02 09:30", "2026-10-03T10:00:00+08:00"],
            "result": ["fail", "pass", "pass"],
            "findings": ["无证经营", None, None],
            "follow_up_due": ["2026-10-08", None, None],
        }
    )
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    assert load_file(beihai, "inspections", tmp_path / "ledger.csv", datum="wgs84").inserted == 3
    with beihai.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT premise_id, hazard_id, "
                "to_char(inspected_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), "
                "follow_up_due::text FROM inspections ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("P-HC", None, "2026-10-01 00:00", "2026-10-08"),
        (None, "WH-A", "2026-10-02 09:30", None),
        ("P-YH", None, "2026-10-03 10:00", None),
    ]
    ledger.loc[2, "target_id"] = "P-NOPE"
    ledger.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ImportRejected, match="row 3, id 'P-NOPE', field 'target_id': unknown target"):
        load_file(beihai, "inspections", tmp_path / "bad.csv", datum="wgs84")
    with pytest.raises(Exception, match="ledger"):
        load_file(beihai, "inspections", tmp_path / "ledger.csv", datum="wgs84", mode="upsert")


# -- rejection: every bad-input case names file/row/id/field and changes nothing ---------------------
def _bowtie(lon: float, lat: float) -> shapely.Polygon:
    d = 0.001
    return shapely.Polygon([(lon, lat), (lon + d, lat + d), (lon + d, lat), (lon, lat + d)])


def _bad_premises(case: str, tmp: Path) -> tuple[Path, dict]:
    frame = premises_frame()
    options: dict = {"datum": "wgs84"}
    if case == "missing_name":
        frame.loc[2, "name"] = None
        return write(frame, tmp / "f.geojson"), options
    if case == "unknown_category":
        frame.loc[3, "category"] = "casino"
        return write(frame, tmp / "f.geojson"), options
    if case == "wrong_geometry_type":
        frame.loc[1, "geometry"] = shapely.LineString([(109.1, 21.48), (109.11, 21.49)])
        return write(frame, tmp / "f.geojson"), options
    if case == "outside_service_area":
        frame.loc[4, "geometry"] = shapely.Point(113.26, 23.13)  # Guangzhou
        return write(frame, tmp / "f.csv"), options
    if case == "swapped_lon_lat":
        frame.loc[1, "geometry"] = shapely.Point(21.43, 109.14)
        return write(frame, tmp / "f.csv"), options
    if case == "undeclared_gcj02":
        # a point just inside the coast in WGS84 leaves the service area when its GCJ-02 shift is not undone
        lon, lat = crs.wgs84_to_gcj02(109.1288, 21.0255)
        frame.loc[4, "geometry"] = shapely.Point(float(lon), float(lat))
        return write(frame, tmp / "f.csv"), options
    if case == "duplicate_id":
        frame.loc[3, "id"] = "P-HC"
        return write(frame, tmp / "f.gpkg"), options
    if case == "nan_coordinates":
        path = write(frame, tmp / "f.csv")
        text_ = path.read_text().splitlines()
        text_[3] = "nan,inf," + text_[3].split(",", 2)[2]
        path.write_text("\n".join(text_) + "\n")
        return path, options
    if case == "gbk_encoding":
        path = tmp / "f.csv"
        table = pd.DataFrame(frame.drop(columns="geometry")).assign(lon=frame.geometry.x, lat=frame.geometry.y)
        table.to_csv(path, index=False, encoding="gbk")
        return path, options
    if case == "empty_file":
        path = tmp / "f.geojson"
        path.write_text("")
        return path, options
    if case == "no_features":
        path = tmp / "f.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
        return path, options
    if case == "truncated_geojson":
        path = write(frame, tmp / "f.geojson")
        path.write_text(path.read_text()[:-200])
        return path, options
    raise AssertionError(case)


BAD_PREMISES = {
    "missing_name": r"f\.geojson, row 3, id 'P-TS', field 'name': missing required field",
    "unknown_category": r"row 4, id 'P-HP', field 'category': unknown value 'casino'; allowed: internet_cafe",
    "wrong_geometry_type": r"row 2, id 'P-YH', field 'geometry': wrong geometry type LineString, expected Point",
    "outside_service_area": r"row 5, id 'P-WZ', field 'geometry': outside the service area",
    "swapped_lon_lat": r"row 2, id 'P-YH', field 'geometry': coordinates outside lon .* \(lon and lat swapped\?\)",
    "undeclared_gcj02": r"row 5, id 'P-WZ', field 'geometry': outside the service area \(it falls inside if read "
    r"as gcj02: pass --datum gcj02\?\)",
    "duplicate_id": r"row 4, id 'P-HC', field 'id': duplicate id \(also in row 1\)",
    "nan_coordinates": r"row 3, id 'P-TS', field 'geometry': coordinates are not finite",
    "gbk_encoding": r"f\.csv, row 1: unreadable encoding: not utf-8-sig .*--encoding gbk",
    "empty_file": r"f\.geojson: the file is empty",
    "no_features": r"f\.geojson: the file holds no features",
    "truncated_geojson": r"f\.geojson: cannot read",
}


@pytest.mark.parametrize("case", list(BAD_PREMISES))
def test_bad_premises_files_are_rejected_and_change_nothing(beihai: Engine, tmp_path: Path, case: str) -> None:
    load_file(beihai, "premises", write(premises_frame().iloc[:1], tmp_path / "seed.geojson"), datum="wgs84")
    before = table_checksums(beihai)
    path, options = _bad_premises(case, tmp_path)
    with pytest.raises(ImportRejected, match=BAD_PREMISES[case]) as caught:
        load_file(beihai, "premises", path, mode="upsert", **options)
    assert str(caught.value).endswith("Nothing was loaded.")
    assert table_checksums(beihai) == before


def test_gbk_file_loads_when_its_encoding_is_declared(beihai: Engine, tmp_path: Path) -> None:
    path, _ = _bad_premises("gbk_encoding", tmp_path)
    assert load_file(beihai, "premises", path, datum="wgs84", encoding="gbk").inserted == 5
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT name FROM premises WHERE id='P-YH'")).scalar_one() == "烟酒店乙"


def test_invalid_polygon_is_rejected_with_reason_or_repaired(beihai: Engine, tmp_path: Path) -> None:
    frame = hazards_frame()
    frame.loc[1, "geometry"] = _bowtie(109.52, 21.62)
    path = write(frame, tmp_path / "h.geojson")
    before = table_checksums(beihai)
    with pytest.raises(
        ImportRejected,
        match=r"row 2, id 'WH-B', field 'geometry': invalid geometry: "
        r"Self-intersection.*--repair",
    ):
        load_file(beihai, "water_hazards", path, datum="wgs84")
    assert table_checksums(beihai) == before
    result = load_file(beihai, "water_hazards", path, datum="wgs84", repair=True)
    assert (result.inserted, result.repaired) == (2, 1)
    with beihai.connect() as conn:
        assert conn.execute(text("SELECT bool_and(ST_IsValid(geom)) FROM water_hazards")).scalar_one()


def test_a_bad_row_in_a_late_chunk_rolls_back_the_earlier_chunks(beihai: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 50
    frame = pd.DataFrame(
        {
            "id": [f"X{i}" for i in range(n)],
            "name": "店",
            "category": "hotel",
            "lon": 109.20 + rng.uniform(-0.01, 0.01, n),
            "lat": 21.66 + rng.uniform(-0.01, 0.01, n),
        }
    )
    frame.loc[47, "category"] = "spaceport"
    frame.to_csv(tmp_path / "many.csv", index=False)
    before = table_checksums(beihai)
    with pytest.raises(ImportRejected, match=r"row 48, id 'X47', field 'category'"):
        load_file(beihai, "premises", tmp_path / "many.csv", datum="wgs84", chunk_rows=7)
    assert table_checksums(beihai) == before
    frame.loc[47, "category"] = "hotel"
    frame.to_csv(tmp_path / "many.csv", index=False)
    assert load_file(beihai, "premises", tmp_path / "many.csv", datum="wgs84", chunk_rows=7).inserted == n


def test_points_need_the_service_area_loaded_first(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected, match="load the district boundaries first"):
        load_file(engine, "premises", write(premises_frame(), tmp_path / "p.geojson"), datum="wgs84")


def test_database_constraints_back_the_importer(beihai: Engine) -> None:
    """Rows that bypass the importer still cannot break the rules."""
    from sqlalchemy.exc import IntegrityError

    bad_statements = [
        "INSERT INTO premises (id, name, category, district_code, geom) VALUES "
        "('Z', 'z', 'casino', '450502', ST_SetSRID(ST_MakePoint(109.118, 21.482), 4326))",
        "INSERT INTO water_hazards (id, name, kind, district_code, geom) VALUES ('Z', 'z', 'pond', '450502', "
        "ST_Multi(ST_GeomFromText('POLYGON((109 21, 109.1 21.1, 109.1 21, 109 21.1, 109 21))', 4326)))",
        "INSERT INTO premises (id, name, category, district_code, geom) VALUES "
        "('Z', 'z', 'hotel', '450502', ST_SetSRID(ST_MakePoint(109.118, 21.482), 3857))",
    ]
    for statement in bad_statements:
        with pytest.raises((IntegrityError, Exception)), beihai.begin() as conn:
            conn.execute(text(statement))


def schools_frame() -> gpd.GeoDataFrame:
    frame = premises_frame()[["id", "name", "geometry"]].copy()
    frame["id"] = [f"S-{i}" for i in range(len(frame))]
    frame["kind"] = ["primary", "kindergarten", "junior", "senior", "special"]
    frame["students"] = [800, 120, 1500, 2400, 60]
    frame["boarding"] = [False, False, True, True, False]
    return frame


@pytest.mark.parametrize("suffix", FORMATS)
def test_schools_and_campuses_load_from_every_format(beihai: Engine, tmp_path: Path, suffix: str) -> None:
    load_file(beihai, "schools", write(schools_frame(), tmp_path / f"schools{suffix}"), datum="wgs84")
    campuses = schools_frame()[["id", "geometry"]].copy()
    campuses["geometry"] = [square(lon, lat, 0.0005) for lon, lat, _ in KNOWN.values()]
    result = load_file(beihai, "school_campuses", write(campuses, tmp_path / f"campus{suffix}"), datum="wgs84")
    assert result.updated == 5
    with beihai.connect() as conn:
        rows = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                text("SELECT id, kind, students, boarding, district_code, GeometryType(campus) FROM schools")
            )
        }
    assert rows["S-2"] == ("junior", 1500, True, "450512", "MULTIPOLYGON")
    assert {r[3] for r in rows.values()} == {"450502", "450503", "450512", "450521"}


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".kml"])
def test_districts_load_from_vector_formats(engine: Engine, tmp_path: Path, suffix: str) -> None:
    frame = gpd.GeoDataFrame(
        {"code": ["450599"], "name": ["测试区"]},
        geometry=[shapely.MultiPolygon([square(109.2, 21.66, 0.05)])],
        crs=4326,
    )
    result = load_file(engine, "districts", write(frame, tmp_path / f"d{suffix}"), datum="wgs84")
    assert result.inserted == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM districts WHERE code = '450599'")).scalar_one() == "测试区"


@pytest.mark.parametrize("suffix", [".csv", ".geojson"])
def test_inspection_ledger_from_csv_and_geojson(beihai: Engine, tmp_path: Path, suffix: str) -> None:
    load_file(beihai, "premises", write(premises_frame(), tmp_path / "p.geojson"), datum="wgs84")
    ledger = gpd.GeoDataFrame(
        {"target_id": ["P-HC", "P-YH"], "inspected_at": ["2026-10-01", "2026-10-02"], "result": ["pass", "fail"]},
        geometry=[shapely.Point(109.118, 21.482), shapely.Point(109.14, 21.43)],
        crs=4326,
    )
    if suffix == ".csv":
        pd.DataFrame(ledger.drop(columns="geometry")).to_csv(tmp_path / "ledger.csv", index=False)
        path = tmp_path / "ledger.csv"
    else:
        path = write(ledger, tmp_path / "ledger.geojson")
    assert load_file(beihai, "inspections", path, datum="wgs84").inserted == 2

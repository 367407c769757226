"""The feature–school link tables against PostGIS geography, and the linked queries against the live ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, text

from geo_safety.proximity import HAZARD_REACH_M, PREMISE_REACH_M
from geo_safety.ruleset import load_rules
from geo_safety.services import hazards
from geo_safety.services.audit import Actor
from geo_safety.services.hotspots import hotspot_params
from geo_safety.services.imports import load_file
from geo_safety.services.inspections import due_params
from geo_safety.services.users import Principal
from geo_safety.sql import reads as sql_reads
from tests.conftest import DATA_DIR, fresh_sample

ADMIN = Principal(0, "admin", "admin", None)
SETUP = Actor("test-setup", "pytest")
DAYS = (date(2026, 11, 2), date(2026, 11, 28), date(2026, 7, 20))


@pytest.fixture(scope="module")
def sample(session_engine: Engine) -> Engine:
    fresh_sample(session_engine, DATA_DIR)
    return session_engine


def _compare(engine: Engine, kind: str) -> tuple[int, int, float, float]:
    """(pairs PostGIS finds within reach, of those with a link, worst ours − PostGIS, worst PostGIS − ours)."""
    table, key, source, reach = (
        ("premise_school_links", "premise_id", "premises f", PREMISE_REACH_M)
        if kind == "premise"
        else ("hazard_school_links", "hazard_id", "water_hazards f", HAZARD_REACH_M)
    )
    live = "f.deleted_at IS NULL" if kind == "hazard" else "true"
    # premises keep their nearest kindergarten and nearest other school; zones every school within reach
    pick = "DISTINCT ON (f.id, s.kind = 'kindergarten')" if kind == "premise" else ""
    order = "ORDER BY f.id, s.kind = 'kindergarten', 3, s.id" if kind == "premise" else ""  # ties: lowest id
    with engine.connect() as conn:
        truth = conn.execute(
            text(
                f"""SELECT {pick} f.id, s.id,
                           ST_Distance(f.geom::geography, coalesce(s.campus, s.geom)::geography)
                      FROM {source} JOIN schools s
                        ON ST_DWithin(f.geom::geography, coalesce(s.campus, s.geom)::geography, :reach)
                     WHERE {live} {order}"""
            ),
            {"reach": reach},
        ).all()
        kept = {(r[0], r[1]): r[2] for r in conn.execute(text(f"SELECT {key}, school_id, distance_m FROM {table}"))}
    diffs = [kept[(f, s)] - d for f, s, d in truth if (f, s) in kept] or [0.0]
    return len(truth), sum((f, s) in kept for f, s, _ in truth), max(diffs), -min(diffs)


def test_premise_links_match_postgis_geography(sample: Engine) -> None:
    truth, found, above, below = _compare(sample, "premise")
    assert truth > 100  # the sample has plenty of premises near schools
    assert found == truth, f"{truth - found} pairs within reach have no link"
    assert max(above, below) < 0.01, "a point–school distance is ≥ 1 cm off the spheroid distance"


def test_zone_links_are_never_longer_than_postgis(sample: Engine) -> None:
    """Polygon to polygon, PostGIS geography can overestimate by metres on long edges (seen: 1,858.58 m where
    two points of the shapes lie 1,853.13 m apart by pyproj's geodesic), never underestimate: ours may be
    shorter, never longer, and agrees to a centimetre for almost every pair."""
    truth, found, above, below = _compare(sample, "hazard")
    assert truth > 100
    assert found == truth, f"{truth - found} pairs within reach have no link"
    assert above < 0.01, f"a link is {above:.3f} m longer than PostGIS's distance"
    assert below < 0.005 * HAZARD_REACH_M


def test_zone_link_distance_is_a_geodesic_between_points_of_the_shapes() -> None:
    """The distance kept is the geodesic length (pyproj) between the two nearest points found."""
    from pyproj import Geod

    from geo_safety.proximity import _project, _to_local, pairs_within

    river = shapely.LineString([(109.10, 21.50), (109.13, 21.52), (109.16, 21.505)]).buffer(0.0004)
    campus = shapely.box(109.125, 21.528, 109.128, 21.531)
    gate = shapely.Point(109.40, 21.60)  # 26 km east of the river: only the point beside it is near
    fi, si, dist = pairs_within([river, shapely.Point(109.401, 21.601)], [campus, gate], 1000.0)
    assert sorted(zip(fi.tolist(), si.tolist(), strict=True)) == [(0, 0), (1, 1)]
    geod = Geod(ellps="WGS84")
    band = 109
    local_river, local_campus = _project(np.array([river, campus], dtype=object), band)
    ends = shapely.get_coordinates(shapely.shortest_line(local_river, local_campus))
    lon, lat = _to_local(band).transform(ends[:, 0], ends[:, 1], direction="INVERSE")
    reference = geod.inv(lon[0], lat[0], lon[1], lat[1])[2]
    assert dist[list(fi).index(0)] == pytest.approx(reference, abs=0.005)
    assert dist[list(fi).index(1)] == pytest.approx(geod.inv(109.401, 21.601, 109.40, 21.60)[2], abs=0.005)


def test_large_inputs_split_across_threads_find_the_same_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first load's nearest-school search runs one part per core; the parts' pairs are the one-thread pairs."""
    from geo_safety import proximity

    premises = gpd.read_file(DATA_DIR / "sample" / "premises.csv")
    points = shapely.points(premises["lon"].astype(float), premises["lat"].astype(float))
    schools = gpd.read_file(DATA_DIR / "sample" / "schools.geojson").geometry.to_numpy()
    campuses = gpd.read_file(DATA_DIR / "sample" / "school_campuses.geojson").geometry.to_numpy()
    footprints = np.concatenate([schools, campuses])
    for nearest in (True, False):
        one = proximity.pairs_within(points, footprints, PREMISE_REACH_M, nearest=nearest)
        with monkeypatch.context() as patch:
            patch.setattr(proximity, "_FEATURES_PER_THREAD", 700)  # 3,000 premises: 4 parts on 4 cores, else 2
            patch.setattr(proximity.os, "cpu_count", lambda: 4)
            assert proximity._parts(len(points)) == 4
            split = proximity.pairs_within(points, footprints, PREMISE_REACH_M, nearest=nearest)
        assert len(one[0]) > 1000
        order_one, order_split = np.lexsort(one[1::-1]), np.lexsort(split[1::-1])
        for a, b in zip(one, split, strict=True):
            assert np.array_equal(a[order_one], b[order_split])


def _by_id(engine: Engine, query: text, params: dict, key: str) -> dict[str, dict]:
    with engine.connect() as conn:
        return {row[key]: dict(row) for row in conn.execute(query, params).mappings()}


def _same(linked: dict[str, dict], live: dict[str, dict], approx: tuple[str, ...]) -> None:
    assert linked.keys() == live.keys()
    for key, row in linked.items():
        other = live[key]
        for column, value in row.items():
            if column in approx and value is not None:
                assert value == pytest.approx(other[column], rel=5e-3, abs=0.01), (key, column)
            elif column != "matched":
                assert value == other[column], (key, column)


@pytest.mark.parametrize("day", DAYS)
def test_linked_queries_answer_as_the_live_ones(sample: Engine, day: date) -> None:
    rules = load_rules()
    params = due_params(rules, day, None, include_all=True)
    linked = _by_id(sample, sql_reads.due_targets(True), params, "id")
    assert len(linked) > 100
    _same(linked, _by_id(sample, sql_reads.due_targets(False), params, "id"), ("distance_m",))
    hot = hotspot_params(rules, day, None, limit=10_000)
    linked = _by_id(sample, sql_reads.drowning_hotspots(True), hot, "hazard_id")
    assert len(linked) > 10
    _same(linked, _by_id(sample, sql_reads.drowning_hotspots(False), hot, "hazard_id"), ("distance_m", "risk_score"))


def test_links_follow_edits_and_imports(sample: Engine, tmp_path: Path) -> None:
    """A zone moved by a planner and a school moved by an import: links are right in the same transaction."""
    rules = load_rules()
    with sample.connect() as conn:
        zone_id, version, wkb = conn.execute(
            text(
                "SELECT h.id, h.version, ST_AsBinary(h.geom) FROM water_hazards h JOIN hazard_school_links l"
                " ON l.hazard_id = h.id WHERE h.deleted_at IS NULL ORDER BY h.id LIMIT 1"
            )
        ).one()
        school = conn.execute(
            text(
                "SELECT s.id, ST_X(s.geom), ST_Y(s.geom) FROM schools s JOIN premise_school_links l"
                " ON l.school_id = s.id WHERE s.campus IS NULL ORDER BY s.id LIMIT 1"
            )
        ).one()
    moved = shapely.affinity.translate(shapely.from_wkb(bytes(wkb)), 0.004, 0.0)  # ~400 m east
    hazards.update(
        sample, rules, ADMIN, SETUP, zone_id, version, {}, shapely.geometry.mapping(moved), "wgs84", False, DAYS[0]
    )
    frame = gpd.read_file(DATA_DIR / "sample" / "schools.geojson")
    row = frame[frame["id"] == school[0]].copy()
    row["geometry"] = [shapely.Point(school[1] + 0.003, school[2] + 0.002)]
    row.to_file(tmp_path / "moved.geojson", driver="GeoJSON")
    load_file(sample, "schools", tmp_path / "moved.geojson", datum="wgs84", mode="upsert")
    for kind in ("premise", "hazard"):
        truth, found, above, _ = _compare(sample, kind)
        assert found == truth and above < 0.01
    fresh_sample(sample, DATA_DIR)  # leave the module's world as it was

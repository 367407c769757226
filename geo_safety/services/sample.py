"""Deterministic synthetic sample inside the real Beihai boundaries, clustered around the real town seats.

No real school, premises or water-body geometry for Beihai could be obtained, so every feature here
is generated and labelled synthetic ("示例"). The 13 focus areas named in the city's 2014
drowning-prevention plan keep their real names but sit at approximate, hand-placed positions with
generated shapes. The same seed always gives the same files, at any scale, so the benchmarks can
reuse the generator at province size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from shapely import affinity

from geo_safety.crs import Datum, geometries_to_wgs84
from geo_safety.rules import HazardKind, PremisesCategory, SchoolKind

BOUNDARY_FILE = "boundaries/beihai_districts_datav_gcj02.geojson"
BOUNDARY_DATUM = Datum.GCJ02
TOWN_FILE = "reference/beihai_town_seats_approx.csv"
FOCUS_FILE = "reference/beihai_drowning_focus_areas_2014.csv"
FOCUS_NOTE = "2014年预防溺水方案所列重点水域；位置为近似、形状为示例（approximate location, synthetic shape）"
#: Inspection history is generated relative to this date, so due lists age like real ones.
REFERENCE_DATE = date(2026, 11, 1)


@dataclass(frozen=True)
class Scale:
    schools: int
    premises: int
    hazards: int
    #: >1: a synthetic province of this many copies of the city's four districts, each shifted north
    copies: int = 1


SCALES = {
    "sample": Scale(300, 3_000, 150),  # the bundled data/sample
    "city": Scale(2_000, 50_000, 2_000),
    # 20 districts of ~1,000 schools and ~50,000 premises each, the district size the benchmarks call for
    "province": Scale(20_000, 1_000_000, 20_000, copies=5),
}
#: How far north each copy of the city lies (degrees): Beihai spans about 0.95° of latitude.
COPY_SHIFT_DEG = 1.0

_TO_METRIC = Transformer.from_crs(4326, 32649, always_xy=True)
_TO_LONLAT = Transformer.from_crs(32649, 4326, always_xy=True)

SCHOOL_KIND_P = {
    SchoolKind.KINDERGARTEN: 0.40,
    SchoolKind.PRIMARY: 0.35,
    SchoolKind.JUNIOR: 0.10,
    SchoolKind.SENIOR: 0.04,
    SchoolKind.NINE_YEAR: 0.05,
    SchoolKind.TWELVE_YEAR: 0.01,
    SchoolKind.VOCATIONAL: 0.03,
    SchoolKind.SPECIAL: 0.02,
}
SCHOOL_KIND_CN = {
    SchoolKind.KINDERGARTEN: "幼儿园",
    SchoolKind.PRIMARY: "小学",
    SchoolKind.JUNIOR: "初级中学",
    SchoolKind.SENIOR: "高级中学",
    SchoolKind.NINE_YEAR: "九年一贯制学校",
    SchoolKind.TWELVE_YEAR: "十二年一贯制学校",
    SchoolKind.VOCATIONAL: "职业技术学校",
    SchoolKind.SPECIAL: "特殊教育学校",
}
STUDENTS = {
    SchoolKind.KINDERGARTEN: (60, 420),
    SchoolKind.PRIMARY: (200, 2600),
    SchoolKind.JUNIOR: (400, 2400),
    SchoolKind.SENIOR: (900, 4200),
    SchoolKind.NINE_YEAR: (300, 2200),
    SchoolKind.TWELVE_YEAR: (1200, 4500),
    SchoolKind.VOCATIONAL: (600, 5000),
    SchoolKind.SPECIAL: (40, 260),
}
CAMPUS_M = {
    SchoolKind.KINDERGARTEN: (45, 70),
    SchoolKind.PRIMARY: (110, 160),
    SchoolKind.JUNIOR: (140, 200),
    SchoolKind.SENIOR: (200, 300),
    SchoolKind.NINE_YEAR: (150, 220),
    SchoolKind.TWELVE_YEAR: (250, 320),
    SchoolKind.VOCATIONAL: (220, 320),
    SchoolKind.SPECIAL: (60, 90),
}
PREMISES_P = {
    PremisesCategory.FOOD_VENDOR: 0.25,
    PremisesCategory.CONVENIENCE_STORE: 0.20,
    PremisesCategory.TOBACCO: 0.11,
    PremisesCategory.ALCOHOL: 0.05,
    PremisesCategory.LOTTERY: 0.06,
    PremisesCategory.INTERNET_CAFE: 0.06,
    PremisesCategory.ENTERTAINMENT: 0.05,
    PremisesCategory.GAME_ARCADE: 0.04,
    PremisesCategory.HOTEL: 0.08,
    PremisesCategory.OTHER: 0.10,
}
PREMISES_CN = {
    PremisesCategory.FOOD_VENDOR: "小吃店",
    PremisesCategory.CONVENIENCE_STORE: "便利店",
    PremisesCategory.TOBACCO: "烟草店",
    PremisesCategory.ALCOHOL: "酒类专卖",
    PremisesCategory.LOTTERY: "彩票站",
    PremisesCategory.INTERNET_CAFE: "网吧",
    PremisesCategory.ENTERTAINMENT: "KTV",
    PremisesCategory.GAME_ARCADE: "电玩城",
    PremisesCategory.HOTEL: "宾馆",
    PremisesCategory.OTHER: "商铺",
}
HAZARD_P = {
    HazardKind.POND: 0.30,
    HazardKind.PIT: 0.12,
    HazardKind.RESERVOIR: 0.08,
    HazardKind.RIVER: 0.12,
    HazardKind.CANAL: 0.08,
    HazardKind.COAST: 0.12,
    HazardKind.BEACH: 0.08,
    HazardKind.OTHER: 0.10,
}
HAZARD_CN = {
    HazardKind.POND: "池塘",
    HazardKind.PIT: "施工积水坑",
    HazardKind.RESERVOIR: "水库",
    HazardKind.RIVER: "河段",
    HazardKind.CANAL: "水渠",
    HazardKind.COAST: "海岸",
    HazardKind.BEACH: "海滩",
    HazardKind.OTHER: "水域",
}
FINDINGS = {
    "pass": "未发现问题",
    "fail": "发现问题，责令限期整改",
    "closed": "已停业",
    "not_found": "现场未找到该经营场所",
}


def _metric(geoms: np.ndarray) -> np.ndarray:
    moved: np.ndarray = shapely.transform(geoms, lambda xy: np.column_stack(_TO_METRIC.transform(xy[:, 0], xy[:, 1])))
    return moved


def _lonlat(geoms: np.ndarray) -> np.ndarray:
    moved: np.ndarray = shapely.transform(geoms, lambda xy: np.column_stack(_TO_LONLAT.transform(xy[:, 0], xy[:, 1])))
    return moved


class _World:
    """The real boundaries and town seats in a metric CRS (UTM 49N), and helpers to place features."""

    def __init__(self, data_dir: Path, rng: np.random.Generator) -> None:
        self.rng = rng
        districts = pyogrio.read_dataframe(data_dir / BOUNDARY_FILE)
        wgs = geometries_to_wgs84(np.asarray(districts.geometry.values, dtype=object), BOUNDARY_DATUM)
        self.district_names = dict(zip(districts["adcode"].astype(str), districts["name"], strict=True))
        self.district_wgs84 = wgs
        self.land = shapely.union_all(_metric(wgs))
        shapely.prepare(self.land)
        towns = pd.read_csv(data_dir / TOWN_FILE, dtype={"code": str, "district_code": str})
        xy = np.column_stack(_TO_METRIC.transform(towns["lon"].to_numpy(), towns["lat"].to_numpy()))
        self.towns = towns.assign(x=xy[:, 0], y=xy[:, 1])
        self.town_p = (self.towns["weight"] / self.towns["weight"].sum()).to_numpy()
        self.town_sigma = np.where(self.towns["code"].str[6:7] == "0", 1200.0, 2600.0)  # streets are compact
        boundary = shapely.get_coordinates(shapely.segmentize(shapely.boundary(self.land), 200.0))
        lon, lat = _TO_LONLAT.transform(boundary[:, 0], boundary[:, 1])
        # the sea lies south and west of Beihai (and all round the islands); the north and east borders are inland
        coastal = ((lat < 21.70) & (lon < 109.70)) | (lat < 21.2)
        self.coast_xy = boundary[coastal]

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        inside: np.ndarray = shapely.contains_xy(self.land, x, y)
        return inside

    def scatter(self, cx: np.ndarray, cy: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gaussian scatter around centres, re-drawn until every point is on land."""
        x, y = cx + self.rng.normal(0, sigma), cy + self.rng.normal(0, sigma)
        for _ in range(200):
            bad = ~self.inside(x, y)
            if not bad.any():
                return x, y
            sig = np.broadcast_to(sigma, cx.shape)[bad]
            x[bad] = cx[bad] + self.rng.normal(0, sig)
            y[bad] = cy[bad] + self.rng.normal(0, sig)
            sigma = np.where(bad, np.asarray(sigma) * 0.8, sigma) if np.ndim(sigma) else sigma * 0.95
        keep = self.inside(x, y)
        x[~keep], y[~keep] = cx[~keep], cy[~keep]
        return x, y

    def ring(self, cx: np.ndarray, cy: np.ndarray, near_m: float, far_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Points at a distance between ``near_m`` and ``far_m`` of the centres (denser close in), on land."""
        x, y = np.empty_like(cx), np.empty_like(cy)
        todo = np.ones(len(cx), dtype=bool)
        for _ in range(200):
            n = int(todo.sum())
            if not n:
                break
            dist = near_m + self.rng.exponential((far_m - near_m) / 3, n).clip(0, far_m - near_m)
            angle = self.rng.uniform(0, 2 * np.pi, n)
            x[todo], y[todo] = cx[todo] + dist * np.cos(angle), cy[todo] + dist * np.sin(angle)
            todo[todo] = ~self.inside(x[todo], y[todo])
        x[todo], y[todo] = cx[todo], cy[todo]
        return x, y

    def town_points(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        town = self.rng.choice(len(self.towns), size=n, p=self.town_p)
        x, y = self.scatter(self.towns["x"].to_numpy()[town], self.towns["y"].to_numpy()[town], self.town_sigma[town])
        return town, x, y

    def snap_inside(self, x: float, y: float) -> tuple[float, float]:
        if self.inside(np.array([x]), np.array([y]))[0]:
            return x, y
        _, near = shapely.ops.nearest_points(shapely.Point(x, y), self.land)
        return near.x, near.y

    def coast_point(self, x: float | None = None, y: float | None = None) -> tuple[float, float]:
        if x is None or y is None:
            i = int(self.rng.integers(len(self.coast_xy)))
        else:
            i = int(np.argmin(np.hypot(self.coast_xy[:, 0] - x, self.coast_xy[:, 1] - y)))
        return float(self.coast_xy[i, 0]), float(self.coast_xy[i, 1])

    # -- shapes ------------------------------------------------------------------------------------
    def blob(self, x: float, y: float, radius: float, vertices: int = 18) -> shapely.Polygon:
        angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
        radii = radius * self.rng.uniform(0.7, 1.15, vertices)
        return shapely.Polygon(np.column_stack([x + radii * np.cos(angles), y + radii * np.sin(angles)]))

    def meander(self, x: float, y: float, length: float, width: float) -> shapely.Polygon:
        steps = max(4, int(length / 250))
        heading = self.rng.uniform(0, 2 * np.pi)
        headings = heading + np.cumsum(self.rng.normal(0, 0.35, steps))
        xs = x + np.concatenate([[0], np.cumsum(250 * np.cos(headings))])
        ys = y + np.concatenate([[0], np.cumsum(250 * np.sin(headings))])
        return shapely.LineString(np.column_stack([xs, ys])).buffer(width / 2, quad_segs=4)

    def coast_strip(self, x: float, y: float, length: float, width: float) -> shapely.Geometry:
        shore = shapely.intersection(shapely.boundary(self.land), shapely.Point(x, y).buffer(length / 2))
        return shapely.buffer(shore, width, quad_segs=4)


def _largest_polygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    polys = [p for p in shapely.get_parts(shapely.make_valid(geom)) if p.geom_type == "Polygon"]
    if not polys:
        polys = [p for g in shapely.get_parts(geom) for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(polys)


def generate(
    out_dir: Path, data_dir: Path, scale: str = "sample", seed: int = 20261101, premises_format: str = "csv"
) -> dict[str, int]:
    """Write schools, campuses, premises, water hazards and inspections into ``out_dir``; return counts.

    A scale with several copies also writes ``districts.geojson`` (WGS84): the copies' synthetic districts.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of: {', '.join(SCALES)}")
    size = SCALES[scale]
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [_city(data_dir, size, seed + k, k) for k in range(size.copies)]
    for part in parts:
        for frame in part:
            frame.attrs.clear()  # the generator's scratch arrays, which pandas cannot compare when concatenating
    schools, campuses, premises, hazards, inspections, districts = (
        pd.concat([part[i] for part in parts], ignore_index=True) for i in range(6)
    )
    _write_geojson(schools, out_dir / "schools.geojson")
    _write_geojson(campuses, out_dir / "school_campuses.geojson")
    _write_geojson(hazards, out_dir / "water_hazards.geojson")
    if size.copies > 1:
        _write_geojson(districts, out_dir / "districts.geojson")
    if premises_format == "gpkg":
        target = out_dir / "premises.gpkg"
        target.unlink(missing_ok=True)
        pyogrio.write_dataframe(premises, target, layer="premises", driver="GPKG")
    else:
        table = pd.DataFrame(premises.drop(columns="geometry"))
        table.insert(0, "lat", np.round(premises.geometry.y, 7))
        table.insert(0, "lon", np.round(premises.geometry.x, 7))
        table.to_csv(out_dir / "premises.csv", index=False)
    inspections.to_csv(out_dir / "inspections.csv", index=False)
    return {
        "districts": len(districts),
        "schools": len(schools),
        "school_campuses": len(campuses),
        "premises": len(premises),
        "water_hazards": len(hazards),
        "inspections": len(inspections),
    }


def _city(data_dir: Path, size: Scale, seed: int, copy: int) -> tuple[pd.DataFrame, ...]:
    """One city's layers; copy k > 0 is shifted k degrees north with prefixed ids and district codes 45(90+k)xx."""
    rng = np.random.default_rng(seed)
    world = _World(data_dir, rng)
    schools, campuses = _schools(world, size.schools // size.copies)
    premises = _premises(world, schools, size.premises // size.copies)
    hazards = _hazards(world, schools, data_dir, size.hazards // size.copies)
    inspections = _inspections(rng, premises["id"].to_numpy(), hazards["id"].to_numpy())
    districts = gpd.GeoDataFrame(
        {"code": list(world.district_names), "name": list(world.district_names.values()), "level": "district"},
        geometry=world.district_wgs84,
        crs=4326,
    )
    if copy == 0:
        return schools, campuses, premises, hazards, inspections, districts
    prefix, shift = f"C{copy}-", copy * COPY_SHIFT_DEG

    def moved(frame: gpd.GeoDataFrame, ids: bool = True) -> gpd.GeoDataFrame:
        geoms = shapely.transform(np.asarray(frame.geometry.values), lambda xy: xy + np.array([0.0, shift]))
        frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=4326))
        if ids:
            frame["id"] = prefix + frame["id"].astype(str)
        return frame

    inspections["target_id"] = prefix + inspections["target_id"].astype(str)
    districts = moved(districts, ids=False)
    districts["code"] = f"45{90 + copy}" + districts["code"].str[4:]
    districts["name"] = districts["name"] + f"（示例副本{copy}，synthetic copy）"
    return moved(schools), moved(campuses), moved(premises), moved(hazards), inspections, districts


def _write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, driver="GeoJSON", layer_options={"COORDINATE_PRECISION": 7})


def _schools(world: _World, n: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = world.rng
    town, x, y = world.town_points(n)
    kinds = rng.choice(list(SCHOOL_KIND_P), size=n, p=list(SCHOOL_KIND_P.values()))
    low = np.array([STUDENTS[k][0] for k in kinds])
    high = np.array([STUDENTS[k][1] for k in kinds])
    students = (low + (high - low) * rng.beta(2, 3, n)).astype(int)
    boarding = np.isin(kinds, [SchoolKind.SENIOR, SchoolKind.VOCATIONAL, SchoolKind.TWELVE_YEAR]) | (
        np.isin(kinds, [SchoolKind.JUNIOR, SchoolKind.NINE_YEAR]) & (rng.random(n) < 0.4)
    )
    towns = world.towns
    seq: dict[tuple[str, str], int] = {}
    names, addresses = [], []
    for t, k in zip(town, kinds, strict=True):
        key = (towns["code"].iat[t], k)
        seq[key] = seq.get(key, 0) + 1
        town_name = towns["name"].iat[t]
        names.append(f"示例{town_name}第{seq[key]}{SCHOOL_KIND_CN[k]}")
        addresses.append(f"北海市{world.district_names[towns['district_code'].iat[t]]}{town_name}（示例地址）")
    gates = _lonlat(shapely.points(x, y))
    ids = [f"S{towns['district_code'].iat[t]}{i:05d}" for i, t in enumerate(town, start=1)]
    frame = gpd.GeoDataFrame(
        {
            "id": ids,
            "name": names,
            "kind": [str(k) for k in kinds],
            "students": students,
            "boarding": boarding,
            "address": addresses,
            "full_time_guards": rng.random(n) < 0.88,
            "closed_campus": rng.random(n) < 0.85,
            "alarm_linked": rng.random(n) < 0.80,
            "video_linked": rng.random(n) < 0.83,
        },
        geometry=gates,
        crs=4326,
    )
    with_campus = rng.random(n) < 0.6
    polys = []
    for i in np.flatnonzero(with_campus):
        width, depth = CAMPUS_M[kinds[i]] * rng.uniform(0.8, 1.2, 2)
        angle = rng.uniform(0, 360)
        # the gate sits in the middle of the front side; the campus extends behind it
        rect = shapely.box(-width / 2, 0, width / 2, depth)
        polys.append(affinity.translate(affinity.rotate(rect, angle, origin=(0, 0)), x[i], y[i]))
    campuses = gpd.GeoDataFrame(
        {"id": np.asarray(ids)[with_campus]}, geometry=_lonlat(np.asarray(polys, dtype=object)), crs=4326
    )
    frame.attrs["xy"] = (x, y)
    return frame, campuses


def _premises(world: _World, schools: gpd.GeoDataFrame, n: int) -> gpd.GeoDataFrame:
    rng = world.rng
    sx, sy = schools.attrs["xy"]
    near_school = rng.random(n) < 0.55
    k = int(near_school.sum())
    which = rng.choice(len(sx), size=k, p=schools["students"].to_numpy() / schools["students"].sum())
    x, y = np.empty(n), np.empty(n)
    x[near_school], y[near_school] = world.ring(sx[which], sy[which], 8.0, 450.0)
    _, x[~near_school], y[~near_school] = world.town_points(n - k)
    categories = rng.choice(list(PREMISES_P), size=n, p=list(PREMISES_P.values()))
    ids = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    cn = np.array([PREMISES_CN[c] for c in categories])
    return gpd.GeoDataFrame(
        {
            "id": ids,
            "name": np.char.add(np.char.add("示例", cn), np.char.zfill(np.arange(1, n + 1).astype(str), 5)),
            "category": categories.astype(str),
            "address": "北海市（示例地址）",
            "license_no": np.char.add("SYN-", np.char.zfill(np.arange(1, n + 1).astype(str), 8)),
            "status": np.where(rng.random(n) < 0.95, "open", "closed"),
        },
        geometry=_lonlat(shapely.points(x, y)),
        crs=4326,
    )


def _guard_columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    guarded = rng.random(n) < 0.55  # about half the zones have every measure in place
    columns = {m: guarded | (rng.random(n) < 0.6) for m in ("warning_sign", "lifebuoy", "rescue_rope", "rescue_pole")}
    columns["fence"] = guarded | (rng.random(n) < 0.5)
    return columns


def _patrols(rng: np.random.Generator, year: int) -> str:
    if rng.random() < 0.35:
        return "[]"
    every_day = rng.random() < 0.4
    patrol = {
        "valid_from": f"{year}-01-01",
        "valid_to": f"{year}-12-31",
        "weekdays": list(range(1, 8)) if every_day else [6, 7],
        "holidays": bool(every_day or rng.random() < 0.6),
        "patroller": f"示例巡河员{rng.integers(1, 99):02d}",
    }
    return json.dumps([patrol], ensure_ascii=False)


def _hazards(world: _World, schools: gpd.GeoDataFrame, data_dir: Path, n: int) -> gpd.GeoDataFrame:
    rng = world.rng
    rows: list[dict[str, object]] = []
    geoms: list[shapely.Geometry] = []
    focus = pd.read_csv(data_dir / FOCUS_FILE)
    for i, row in enumerate(focus.itertuples(), start=1):
        fx, fy = _TO_METRIC.transform(row.approx_lon, row.approx_lat)
        kind = HazardKind(row.kind)
        if kind in (HazardKind.COAST, HazardKind.BEACH):
            geom = world.coast_strip(*world.coast_point(fx, fy), 2500 if kind is HazardKind.COAST else 1800, 80)
        elif kind is HazardKind.RESERVOIR:
            geom = world.blob(*world.snap_inside(fx, fy), 900)
        elif kind is HazardKind.RIVER:
            geom = world.meander(*world.snap_inside(fx, fy), 9000, 90)
        else:
            geom = world.blob(*world.snap_inside(fx, fy), 45)
        geoms.append(geom)
        rows.append(
            {
                "id": f"WH-F{i:02d}",
                "name": row.name,
                "kind": kind.value,
                "responsible_unit": row.responsible_body,
                "note": FOCUS_NOTE,
            }
        )
    sx, sy = schools.attrs["xy"]
    extra = max(0, n - len(rows))
    kinds = [HazardKind(k) for k in rng.choice(list(HAZARD_P), size=extra, p=list(HAZARD_P.values()))]
    near = rng.choice(len(sx), size=extra)
    hx, hy = world.ring(sx[near], sy[near], 120.0, 1800.0)
    counters: dict[str, int] = {}
    for j, kind in enumerate(kinds):
        x, y = float(hx[j]), float(hy[j])
        if kind is HazardKind.COAST:
            geom = world.coast_strip(*world.coast_point(), rng.uniform(500, 1500), 50)
        elif kind is HazardKind.BEACH:
            geom = world.coast_strip(*world.coast_point(), rng.uniform(300, 1000), 40)
        elif kind is HazardKind.RESERVOIR:
            geom = world.blob(x, y, rng.uniform(250, 900))
        elif kind is HazardKind.RIVER:
            geom = world.meander(x, y, rng.uniform(2500, 8000), rng.uniform(25, 70))
        elif kind is HazardKind.CANAL:
            geom = world.meander(x, y, rng.uniform(800, 2500), rng.uniform(5, 12))
        elif kind is HazardKind.PIT:
            geom = affinity.rotate(shapely.box(x - 25, y - 18, x + 25, y + 18), rng.uniform(0, 180))
        else:
            geom = world.blob(x, y, rng.uniform(18, 80))
        counters[kind] = counters.get(kind, 0) + 1
        geoms.append(geom)
        rows.append(
            {
                "id": f"WH-{len(rows) + 1:05d}",
                "name": f"示例{HAZARD_CN[kind]}{counters[kind]:04d}",
                "kind": kind.value,
                "responsible_unit": "示例镇人民政府",
                "note": "示例数据（synthetic）",
            }
        )
    m = len(rows)
    frame = pd.DataFrame(rows)
    frame["depth_m"] = np.round(rng.uniform(0.8, 12.0, m), 1)
    frame["owner"] = "示例权属单位"
    has_person = rng.random(m) < 0.88
    nobody = np.array(None, dtype=object)
    frame["responsible_person"] = np.where(has_person, [f"示例责任人{i:03d}" for i in range(1, m + 1)], nobody)
    frame["phone"] = np.where(has_person, [f"0779-555{i:04d}" for i in range(1, m + 1)], nobody)
    for column, flags in _guard_columns(rng, m).items():
        frame[column] = flags
    frame["patrols"] = [_patrols(rng, REFERENCE_DATE.year) for _ in range(m)]
    polygons = np.asarray([_largest_polygon(g) for g in geoms], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=_lonlat(polygons), crs=4326)


def _inspections(rng: np.random.Generator, premise_ids: np.ndarray, hazard_ids: np.ndarray) -> pd.DataFrame:
    def history(ids: np.ndarray, share: float, kind: str) -> pd.DataFrame:
        chosen = ids[rng.random(len(ids)) < share]
        visits = np.repeat(chosen, rng.integers(1, 4, len(chosen)))
        days_ago = rng.integers(1, 150, len(visits))
        results = rng.choice(["pass", "fail", "closed", "not_found"], size=len(visits), p=[0.74, 0.16, 0.05, 0.05])
        if kind == "water_hazard":
            results = np.where(np.isin(results, ["closed", "not_found"]), "pass", results)
        dates = [REFERENCE_DATE - timedelta(days=int(d)) for d in days_ago]
        hours = rng.integers(8, 18, len(visits))
        follow = [
            (d + timedelta(days=7 if rng.random() < 0.7 else 14)).isoformat() if r == "fail" else ""
            for d, r in zip(dates, results, strict=True)
        ]
        return pd.DataFrame(
            {
                "target_type": kind,
                "target_id": visits,
                "inspected_at": [f"{d.isoformat()}T{h:02d}:30:00+08:00" for d, h in zip(dates, hours, strict=True)],
                "inspector": [f"示例巡查员{i:02d}" for i in rng.integers(1, 25, len(visits))],
                "result": results,
                "findings": [FINDINGS[r] for r in results],
                "follow_up_due": follow,
            }
        )

    frame = pd.concat([history(premise_ids, 0.45, "premise"), history(hazard_ids, 0.5, "water_hazard")])
    return frame.sort_values(["inspected_at", "target_id"]).reset_index(drop=True)

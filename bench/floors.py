"""In-memory floors: the same due list and hotspot answer computed by shapely 2 ``STRtree`` in metres.

The layers of the district are read once (not timed); the timed part is the spatial join
(``STRtree.query(..., predicate="dwithin")`` in UTM 49N), the rule checks and the sort, which is
what the service's SQL has to do too. The answers are compared with the service's, so a fast
wrong floor would show.

Distances are geodesic, as the rules define them: UTM 49N only finds the closest points of each pair
(a conformal projection moves them by well under a millimetre), and the pair's length is then measured
on the WGS84 ellipsoid (``pyproj.Geod``). UTM's own lengths are not good enough at a rule's edge: its
scale is 0.9996 on 111° E and about 1.00006 around Beihai, so a premise 199.991 m from a campus
(PostGIS geography) measured 200.004 m in UTM and the floor missed it (issue 15: 50,943 vs 50,944).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import Engine, text

from geo_safety.ruleset import RuleSet

METRIC_CRS = 32649
#: UTM 49N's scale over the benchmark worlds (108.5–110.5° E, 20–27° N) stays within 0.9996…1.0003, so a
#: planar search this much wider than a threshold finds every pair that is geodesically within it.
SEARCH_SLACK = 1.001
_GEOD = Geod(ellps="WGS84")
_TO_LONLAT = Transformer.from_crs(METRIC_CRS, 4326, always_xy=True)


@dataclass
class Layers:
    premises: pd.DataFrame
    premise_xy: np.ndarray
    schools: pd.DataFrame
    school_geoms: np.ndarray
    zones: pd.DataFrame
    zone_geoms: np.ndarray
    last_premise: pd.DataFrame
    last_zone: pd.Series


def _metric(frame: gpd.GeoDataFrame) -> np.ndarray:
    return np.asarray(frame.set_crs(4326).to_crs(METRIC_CRS).geometry.values)


def read_layers(engine: Engine, district: str | None, day: date) -> Layers:
    """Premises and zones of ``district`` (None: all), every school, inspections up to ``day``."""
    where = "district_code = :d" if district else "true"
    joined = "p.district_code = :d" if district else "true"
    with engine.connect() as conn:
        premises = gpd.read_postgis(
            text(f"SELECT id, category, status, geom FROM premises WHERE {where}"), conn, params={"d": district}
        )
        schools = gpd.read_postgis(text("SELECT id, kind, students, coalesce(campus, geom) AS geom FROM schools"), conn)
        zones = gpd.read_postgis(
            text(
                f"SELECT id, kind, warning_sign, lifebuoy, rescue_rope, rescue_pole, fence, responsible_person,"
                f" patrols, geom FROM water_hazards WHERE deleted_at IS NULL AND {where}"
            ),
            conn,
            params={"d": district},
        )
        inspections = pd.read_sql(
            text(
                "SELECT premise_id, hazard_id, (inspected_at AT TIME ZONE 'Asia/Shanghai')::date AS on_day, result,"
                " follow_up_due, inspected_at, id FROM inspections"
                " WHERE (inspected_at AT TIME ZONE 'Asia/Shanghai')::date <= :day"
            ),
            conn,
            params={"day": day},
        )
        registry = pd.read_sql(
            text(
                "SELECT h.premise_id, h.status, h.valid_from, h.observed_at FROM premise_status_history h"
                f" JOIN premises p ON p.id = h.premise_id WHERE h.source <> 'inspection' AND {joined}"
                " AND (h.valid_from IS NULL OR h.valid_from <= :day)"
            ),
            conn,
            params={"d": district, "day": day},
        )
    inspections = inspections.sort_values(["inspected_at", "id"])
    last_premise = inspections.dropna(subset=["premise_id"]).groupby("premise_id").tail(1).set_index("premise_id")
    premises["open_on_day"] = _open_on_day(premises["id"], registry, inspections)
    last_zone = inspections.dropna(subset=["hazard_id"]).groupby("hazard_id")["on_day"].max()
    pm = _metric(premises)
    return Layers(
        premises=pd.DataFrame(premises.drop(columns="geom")),
        premise_xy=pm,
        schools=pd.DataFrame(schools.drop(columns="geom")),
        school_geoms=_metric(schools),
        zones=pd.DataFrame(zones.drop(columns="geom")),
        zone_geoms=_metric(zones),
        last_premise=last_premise,
        last_zone=last_zone,
    )


def geodesic_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ellipsoidal distances of pairs of UTM 49N shapes: their closest points found in UTM, measured by ``Geod``.

    0 where the shapes touch or overlap (a premise inside a campus).
    """
    if not len(a):
        return np.empty(0)
    ends = shapely.get_coordinates(shapely.shortest_line(a, b)).reshape(-1, 2, 2)
    lon, lat = _TO_LONLAT.transform(ends[:, :, 0].ravel(), ends[:, :, 1].ravel())
    lon, lat = np.asarray(lon).reshape(-1, 2), np.asarray(lat).reshape(-1, 2)
    _, _, metres = _GEOD.inv(lon[:, 0], lat[:, 0], lon[:, 1], lat[:, 1])
    return np.where(shapely.intersects(a, b), 0.0, np.asarray(metres))


def near_edge_geodesic(a: np.ndarray, b: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """UTM lengths of pairs, measured again on the ellipsoid where UTM's scale could put them across ``threshold``.

    Pairs clearly inside or outside keep their planar length (cheap); only those within the scale's slack of
    their threshold (NaN: no threshold) pay for ``geodesic_m``.
    """
    dist = shapely.distance(a, b)
    with np.errstate(invalid="ignore"):
        edge = np.abs(dist - threshold) <= threshold * (SEARCH_SLACK - 1)
    dist[edge] = geodesic_m(a[edge], b[edge])
    return dist


def _open_on_day(ids: pd.Series, registry: pd.DataFrame, inspections: pd.DataFrame) -> np.ndarray:
    """Whether each premise was open on the day: the latest status given on or before it, else open.

    Statuses come from the registry (loads and imports; no date: since always) and from the visits up to the
    day (closed/not_found close, pass/fail reopen), latest ``valid_from`` then latest observation winning.
    """
    visits = inspections.dropna(subset=["premise_id"])
    events = pd.concat(
        [
            registry.assign(valid_from=pd.to_datetime(registry["valid_from"])),
            pd.DataFrame(
                {
                    "premise_id": visits["premise_id"],
                    "status": np.where(visits["result"].isin(["closed", "not_found"]), "closed", "open"),
                    "valid_from": pd.to_datetime(visits["on_day"]),
                    "observed_at": visits["inspected_at"],
                }
            ),
        ],
        ignore_index=True,
    )
    events["observed_at"] = pd.to_datetime(events["observed_at"], utc=True)
    latest = events.sort_values(["valid_from", "observed_at"], na_position="first").groupby("premise_id").tail(1)
    status = latest.set_index("premise_id")["status"].reindex(ids.to_numpy())
    return (status.fillna("open") == "open").to_numpy()


def due_floor(layers: Layers, rules: RuleSet, day: date) -> tuple[dict[str, str], float]:
    """Due premises and zones on ``day`` (id → reason, as the service names it) and the seconds it took."""
    started = time.perf_counter()
    tree = shapely.STRtree(layers.school_geoms)
    p = layers.premises
    reach = max(max(r.kindergarten_m or 0, r.other_m or 0) for r in rules.rules.values())
    pi, si = tree.query(layers.premise_xy, predicate="dwithin", distance=reach * SEARCH_SLACK)
    cats = p["category"].to_numpy()[pi]
    kg = layers.schools["kind"].to_numpy()[si] == "kindergarten"
    kg_m = pd.Series(cats).map({c: _rule(rules, c, True) for c in rules.rules}).to_numpy(dtype=float)
    other_m = pd.Series(cats).map({c: _rule(rules, c, False) for c in rules.rules}).to_numpy(dtype=float)
    rule_m = np.where(kg, kg_m, other_m)
    dist = near_edge_geodesic(layers.premise_xy[pi], layers.school_geoms[si], rule_m)
    inside = ~np.isnan(rule_m) & (dist <= rule_m) & p["open_on_day"].to_numpy()[pi]
    ids = np.unique(p["id"].to_numpy()[pi[inside]])
    last = layers.last_premise.reindex(ids)
    category = pd.Series(p["category"].to_numpy(), index=p["id"].to_numpy()).reindex(ids)
    intervals = category.map({c: r.interval_days for c, r in rules.rules.items()}).to_numpy(dtype=float)
    never = last["result"].isna().to_numpy()
    last_on = pd.to_datetime(last["on_day"])
    recheck = pd.to_datetime(last["follow_up_due"]).fillna(last_on + pd.Timedelta(days=rules.recheck_days))
    today = pd.Timestamp(day)
    failed = (last["result"] == "fail").to_numpy() & (recheck <= today).to_numpy()
    overdue = (today >= last_on + pd.to_timedelta(intervals, unit="D")).to_numpy()
    reason = np.select([never, failed, overdue], ["never_inspected", "failed_recheck", "overdue"], "")
    keep = reason != ""
    result = dict(zip(ids[keep], reason[keep], strict=True))
    facts = rules.day_facts(day)
    zi, zs = tree.query(layers.zone_geoms, predicate="dwithin", distance=rules.hazards.radius_m * SEARCH_SLACK)
    radius = np.full(len(zi), rules.hazards.radius_m)
    near = near_edge_geodesic(layers.zone_geoms[zi], layers.school_geoms[zs], radius) <= radius
    zone_ids = layers.zones["id"].to_numpy()[np.unique(zi[near])]
    zone_last = pd.to_datetime(layers.last_zone.reindex(zone_ids))
    zone_reason = np.where(
        zone_last.isna(),
        "never_inspected",
        np.where(today >= zone_last + pd.Timedelta(days=facts["hz_interval"]), "overdue", ""),
    )
    result.update((z, r) for z, r in zip(zone_ids, zone_reason, strict=True) if r)
    return result, time.perf_counter() - started


def _rule(rules: RuleSet, category: str, kindergarten: bool) -> float:
    rule = rules.rules.get(category)
    value = None if rule is None else (rule.kindergarten_m if kindergarten else rule.other_m)
    return np.nan if value is None else float(value)


def hotspot_floor(layers: Layers, rules: RuleSet, day: date) -> tuple[list[str], float]:
    """Unguarded zones near schools by risk score (measures only; patrols as the service judges them)."""
    started = time.perf_counter()
    z = layers.zones
    h = rules.hazards
    missing = np.zeros(len(z))
    for measure in h.required_measures:
        missing += ~z[measure].to_numpy(dtype=bool)
    fence_needed = z["kind"].isin(h.fence_kinds).to_numpy() | ("fence" in h.required_measures)
    missing += (~z["fence"].to_numpy(dtype=bool)) & fence_needed
    missing += z["responsible_person"].fillna("").str.strip().eq("").to_numpy()
    if rules.day_facts(day)["key_period"]:
        missing += np.array([not _patrolled(p, day, rules) for p in z["patrols"]])
    unguarded = np.flatnonzero(missing > 0)
    tree = shapely.STRtree(layers.school_geoms)
    zi, si = tree.query(layers.zone_geoms[unguarded], predicate="dwithin", distance=h.radius_m * SEARCH_SLACK)
    dist = near_edge_geodesic(layers.zone_geoms[unguarded][zi], layers.school_geoms[si], np.full(len(zi), h.radius_m))
    within = dist <= h.radius_m
    zi, si, dist = zi[within], si[within], dist[within]
    weighted = layers.schools["students"].to_numpy()[si] * (1 - dist / h.radius_m)
    score = np.bincount(zi, weights=weighted, minlength=len(unguarded))
    near = np.bincount(zi, minlength=len(unguarded)) > 0
    kinds = z["kind"].to_numpy()[unguarded]
    weight = np.array([h.kind_weights.get(k, 1.0) for k in kinds])
    risk = score * weight * (1 + 0.25 * missing[unguarded])
    order = np.lexsort((z["id"].to_numpy()[unguarded], -risk))
    ranked = [z["id"].iloc[unguarded[i]] for i in order if near[i]]
    return ranked, time.perf_counter() - started


def _patrolled(patrols: object, day: date, rules: RuleSet) -> bool:
    facts = rules.day_facts(day)
    for patrol in patrols or []:
        if not (patrol["valid_from"] <= day.isoformat() <= patrol["valid_to"]):
            continue
        if facts["isodow"] in patrol.get("weekdays", []) or (facts["holiday"] and patrol.get("holidays")):
            return True
    return False

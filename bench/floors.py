"""In-memory floors: the same due list and hotspot answer computed by shapely 2 ``STRtree`` in metres.

The layers of the district are read once (not timed); the timed part is the spatial join
(``STRtree.query(..., predicate="dwithin")`` in UTM 49N), the rule checks and the sort, which is
what the service's SQL has to do too. The answers are compared with the service's, so a fast
wrong floor would show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from geo_safety.ruleset import RuleSet

METRIC_CRS = 32649


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
    inspections = inspections.sort_values(["inspected_at", "id"])
    last_premise = inspections.dropna(subset=["premise_id"]).groupby("premise_id").tail(1).set_index("premise_id")
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


def due_floor(layers: Layers, rules: RuleSet, day: date) -> tuple[set[str], float]:
    """Ids of due premises and zones on ``day`` and the seconds the computation took."""
    started = time.perf_counter()
    tree = shapely.STRtree(layers.school_geoms)
    p = layers.premises
    reach = max(max(r.kindergarten_m or 0, r.other_m or 0) for r in rules.rules.values())
    pi, si = tree.query(layers.premise_xy, predicate="dwithin", distance=reach)
    dist = shapely.distance(layers.premise_xy[pi], layers.school_geoms[si])
    cats = p["category"].to_numpy()[pi]
    kg = layers.schools["kind"].to_numpy()[si] == "kindergarten"
    kg_m = pd.Series(cats).map({c: _rule(rules, c, True) for c in rules.rules}).to_numpy(dtype=float)
    other_m = pd.Series(cats).map({c: _rule(rules, c, False) for c in rules.rules}).to_numpy(dtype=float)
    rule_m = np.where(kg, kg_m, other_m)
    inside = ~np.isnan(rule_m) & (dist <= rule_m) & (p["status"].to_numpy()[pi] == "open")
    ids = np.unique(p["id"].to_numpy()[pi[inside]])
    last = layers.last_premise.reindex(ids)
    category = pd.Series(p["category"].to_numpy(), index=p["id"].to_numpy()).reindex(ids)
    intervals = category.map({c: r.interval_days for c, r in rules.rules.items()}).to_numpy(dtype=float)
    never = last["result"].isna().to_numpy()
    gone = last["result"].isin(["closed", "not_found"]).to_numpy()
    last_on = pd.to_datetime(last["on_day"])
    recheck = pd.to_datetime(last["follow_up_due"]).fillna(last_on + pd.Timedelta(days=rules.recheck_days))
    today = pd.Timestamp(day)
    failed = (last["result"] == "fail").to_numpy() & (recheck <= today).to_numpy()
    overdue = (today >= last_on + pd.to_timedelta(intervals, unit="D")).to_numpy()
    due_premises = set(ids[~gone & (never | failed | overdue)])
    facts = rules.day_facts(day)
    zi, _ = tree.query(layers.zone_geoms, predicate="dwithin", distance=rules.hazards.radius_m)
    zone_ids = layers.zones["id"].to_numpy()[np.unique(zi)]
    zone_last = pd.to_datetime(layers.last_zone.reindex(zone_ids))
    zone_due = zone_last.isna() | (today >= zone_last + pd.Timedelta(days=facts["hz_interval"]))
    result = due_premises | set(zone_ids[zone_due.to_numpy()])
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
    zi, si = tree.query(layers.zone_geoms[unguarded], predicate="dwithin", distance=h.radius_m)
    dist = shapely.distance(layers.zone_geoms[unguarded][zi], layers.school_geoms[si])
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

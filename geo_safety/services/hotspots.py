"""Unguarded drowning hotspots: zones lacking measures or patrols on a date, near schools, by risk."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

from sqlalchemy import Engine

from geo_safety.bounds import MAX_OFFSET, check_day
from geo_safety.errors import InvalidInput
from geo_safety.rules import today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import duestate, links
from geo_safety.shapes.features import HotspotCollection
from geo_safety.sql import reads as sql_reads

MAX_PAGE = 5000


def hotspot_params(
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | list[str] | None,
    radius_m: float | None = None,
    *,
    limit: int = 1000,
    offset: int = 0,
) -> dict[str, Any]:
    """The binds of ``sql.reads.drowning_hotspots`` for ``day`` (the rules' radius unless ``radius_m``)."""
    weights = rules.hazards.kind_weights
    return {
        **rules.day_facts(day),
        "radius": radius_m or rules.hazards.radius_m,
        "districts": list(districts) if districts else None,
        "weight_kinds": list(weights),
        "weights": list(weights.values()),
        "limit": limit,
        "offset": offset,
    }


def drowning_hotspots(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    radius_m: float | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> dict[str, Any]:
    """Plain GeoJSON of hotspots, highest ``risk_score`` first (see ``sql.reads.drowning_hotspots`` for the formula):
    for the OGC items, which filter and annotate the features; the maps and the API read ``hotspot_collection``.

    ``districts`` scopes the schools as well as the zones: schools of other districts are only counted
    (``schools_in_other_districts``), never named (see ``sql.reads.drowning_hotspots``).
    """
    check_day(day)
    radius = radius_m or rules.hazards.radius_m
    if not (math.isfinite(radius) and 0 < radius <= 5000):
        raise InvalidInput("radius_m must be in (0, 5000]")
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE} and offset 0..{MAX_OFFSET:,}")
    params = hotspot_params(rules, day, districts, radius, limit=limit, offset=offset)
    with engine.connect() as conn:
        # a past day: the zones as they stood then (later edits and deletions change nothing); else as now
        past = day < today_local()
        statement = sql_reads.drowning_hotspots(
            links.cover_radius(radius), as_of=past, exposure=not past and duestate.exposure_usable(conn, radius)
        )
        rows = conn.execute(statement, params).mappings().all()
    answer = rules.calendar.answer(day)  # provisional: the day's key period rests on computed or missing dates
    features = []
    for row in rows:
        props = {k: v for k, v in row.items() if k not in ("geometry", "matched")}
        props["key_period_provisional"] = answer.provisional  # OGC items carry only the features
        props["distance_m"] = round(float(props["distance_m"]), 2)
        props["risk_score"] = round(float(props["risk_score"]), 2)
        props["students_within"] = int(props["students_within"])
        features.append(
            {"type": "Feature", "id": row["hazard_id"], "geometry": json.loads(row["geometry"]), "properties": props}
        )
    return {
        "type": "FeatureCollection",
        "date": day.isoformat(),
        "key_period": answer.period,
        "provisional": answer.provisional,
        "calendar_notice": rules.calendar.notice(day),  # shown on maps (zh + en); None when the dates are firm
        "radius_m": radius,
        "numberMatched": rows[0]["matched"] if rows else 0,
        "numberReturned": len(features),
        "features": features,
    }


def hotspot_collection(
    engine: Engine,
    rules: RuleSet,
    day: date,
    districts: tuple[str, ...] | None,
    radius_m: float | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> HotspotCollection:
    """The hotspots of ``drowning_hotspots`` as their model: the query's columns checked once against
    ``HotspotProperties`` (a column the model does not name fails here), then trusted by the maps and the API."""
    found = drowning_hotspots(engine, rules, day, districts, radius_m, limit, offset)
    return HotspotCollection.model_validate(found)


def school_rings(engine: Engine, found: HotspotCollection, districts: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """The schools of ``districts`` (``None``: the city) near the hotspots ``found``, with their radius rings.

    For the hotspot map: schools of other districts are never drawn (the hotspots count them).
    """
    ids = [f.id for f in found.features]
    if not ids:
        return []
    params = {
        "ids": ids,
        "radius": found.radius_m,
        "scoped": True,
        "districts": list(districts) if districts else None,
    }
    with engine.connect() as conn:
        rows = conn.execute(sql_reads.schools_near_zones(), params).mappings().all()
    return [
        {
            "type": "Feature",
            "geometry": json.loads(r["geometry"]),
            "properties": {"id": r["id"], "name": r["name"], "students": r["students"]},
        }
        for r in rows
    ]


def zones(engine: Engine, rules: RuleSet, day: date, districts: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Every live zone with its guard state on ``day`` (for the planners' map)."""
    check_day(day)
    params = {**rules.day_facts(day), "districts": list(districts) if districts else None}
    with engine.connect() as conn:
        rows = conn.execute(sql_reads.zone_guard_state(), params).mappings().all()
    return [
        {
            "type": "Feature",
            "id": r["id"],
            "geometry": json.loads(r["geometry"]),
            "properties": {**{k: v for k, v in r.items() if k != "geometry"}, "guarded": not r["missing"]},
        }
        for r in rows
    ]

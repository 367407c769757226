"""Water hazard zones that planners keep: validated writes, optimistic versions, soft delete, full history.

Who may write where is decided in :mod:`geo_safety.services.scope`, the same check file imports go through.
A zone in a district the caller may not see answers exactly like an id that does not exist (404).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from sqlalchemy import Connection, Engine

from geo_safety.crs import Datum
from geo_safety.db import psycopg_connection
from geo_safety.errors import (
    Forbidden,
    ImportRejected,
    InvalidGeometry,
    InvalidInput,
    NotFound,
    StaleVersion,
    VersionRequired,
)
from geo_safety.layers import get_layer
from geo_safety.ruleset import RuleSet
from geo_safety.services import links, scope
from geo_safety.services.audit import Actor, record, set_actor
from geo_safety.services.imports import load_service_area
from geo_safety.services.users import Principal
from geo_safety.services.validate import ChunkValidator
from geo_safety.sql import reads as sql_reads
from geo_safety.sql import zones as sql_zones

LAYER = get_layer("water_hazards")
EDITABLE = tuple(f.name for f in LAYER.fields if f.name != "id")
MIN_AREA_M2 = 10.0
MAX_AREA_M2 = 100e6
MAX_DEPTH_M = 9999.0
_GEOD = Geod(ellps="WGS84")


def _validate(
    conn: Connection, props: dict[str, Any], geometry: dict[str, Any], datum: Datum, repair: bool
) -> tuple[dict[str, Any], shapely.Geometry, str, dict[str, Any] | None]:
    """One zone through the importer's own checks; returns clean values, WGS84 geometry, district, repair report."""
    try:
        geom = shapely.geometry.shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise InvalidGeometry(f"geometry: not a GeoJSON geometry ({exc})", code="zone.not_geojson") from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry(
            f"geometry: a water zone is a Polygon or MultiPolygon, not a {geom.geom_type}", code="zone.geometry_type"
        )
    was_valid, reason = bool(shapely.is_valid(geom)), shapely.is_valid_reason(geom)
    frame = pd.DataFrame([{**{k: props.get(k) for k in EDITABLE}, "id": "new", "geometry": geom}], index=[1])
    if isinstance(frame.at[1, "patrols"], list):
        frame.at[1, "patrols"] = json.dumps(frame.at[1, "patrols"], ensure_ascii=False)
    validator = ChunkValidator(
        "feature", LAYER, datum, load_service_area(conn), repair=repair, repair_hint="add repair=true to make it valid"
    )
    try:
        row = validator.convert(frame).iloc[0]
    except ImportRejected as exc:
        raise InvalidInput(f"{exc.field}: {exc.problem}", code=_code_of(exc)) from exc
    clean = {k: (None if isinstance(row[k], float) and np.isnan(row[k]) else row[k]) for k in EDITABLE}
    if clean["depth_m"] is not None and not 0 <= clean["depth_m"] <= MAX_DEPTH_M:  # the column is numeric(6, 2)
        raise InvalidInput(
            f"depth_m: {clean['depth_m']} m is not a depth of 0 to {MAX_DEPTH_M:g} m", code="validation.depth_m"
        )
    wgs = row["geometry"]
    area = abs(_GEOD.geometry_area_perimeter(wgs)[0])
    if area < MIN_AREA_M2:
        raise InvalidGeometry(
            f"geometry: an area of {area:.1f} m² is a sliver, not a water zone (minimum 10 m²)", code="zone.too_small"
        )
    if area > MAX_AREA_M2:
        raise InvalidGeometry(
            f"geometry: an area of {area / 1e6:.0f} km² is implausible (maximum 100 km²)", code="zone.too_big"
        )
    report = None
    if not was_valid:
        report = {"was": reason, "parts": len(shapely.get_parts(wgs)), "area_m2": round(area, 1)}
    return clean, wgs, str(row["district_code"]), report


def _code_of(exc: ImportRejected) -> str:
    """The stable code of a refusal by the importer's checks: ``zone.…`` for the shape, else ``validation.<field>``."""
    problem = exc.problem
    if exc.field == "geometry" or exc.field is None:
        for start, code in _GEOMETRY_CODES:
            if problem.startswith(start):
                return code
        return "zone.invalid_geometry"
    if problem == "missing required field":
        return f"validation.{exc.field}.required"
    return f"validation.{exc.field}"


#: how the importer's geometry refusals begin, and their codes
_GEOMETRY_CODES = (
    ("outside the service area", "zone.outside_service_area"),
    ("more than", "zone.too_many_vertices"),
    ("wrong geometry type", "zone.geometry_type"),
    ("the service area is empty", "zone.no_service_area"),
)


def _missing(hazard_id: str) -> NotFound:
    """The one answer for an id that does not exist and for a zone the caller may not see."""
    return NotFound(f"no water hazard with id {hazard_id!r}", code="zone.not_found")


def _check_write(
    conn: Connection, write_scope: scope.WriteScope, hazard_id: str | None, geom: shapely.Geometry, district: str
) -> None:
    """The shared scope check (see ``scope``) of one zone's stored row and its new geometry and district."""
    refusal = scope.check_feature(
        psycopg_connection(conn), write_scope, LAYER, hazard_id, shapely.to_wkb(geom), district
    )
    if refusal is None:
        return
    if refusal.kind == "stored":
        raise _missing(str(hazard_id))
    code = "zone.crosses_district" if refusal.kind == "reach" else "zone.outside_scope"
    raise Forbidden(refusal.reason(write_scope), code=code)


def _feature(conn: Connection, rules: RuleSet, hazard_id: str, day: date, user: Principal) -> dict[str, Any]:
    """The live zone ``hazard_id`` as ``user`` may see it; 404 when missing, deleted, or in a district not theirs."""
    row = conn.execute(sql_zones.zone_row(EDITABLE), {"id": hazard_id}).mappings().one_or_none()
    if row is None or not user.covers(row["district_code"]):
        raise _missing(hazard_id)
    if row["deleted_at"] is not None:
        raise NotFound(
            f"water hazard {hazard_id} was deleted on {row['deleted_at']:%Y-%m-%d}; see its history",
            code="zone.deleted",
        )
    facts = {**rules.day_facts(day), "districts": [row["district_code"]]}
    state = {r.id: r.missing for r in conn.execute(sql_reads.zone_guard_state(), facts)}
    props = {k: v for k, v in row.items() if k not in ("geometry", "deleted_at")}
    props["depth_m"] = None if props["depth_m"] is None else float(props["depth_m"])
    props["updated_at"] = props["updated_at"].isoformat()
    props["missing"] = state.get(hazard_id, [])
    props["guarded"] = not props["missing"]
    return {"type": "Feature", "id": row["id"], "geometry": json.loads(row["geometry"]), "properties": props}


def get(engine: Engine, rules: RuleSet, user: Principal, hazard_id: str, day: date) -> dict[str, Any]:
    with engine.connect() as conn:
        return _feature(conn, rules, hazard_id, day, user)


def create(
    engine: Engine,
    rules: RuleSet,
    user: Principal,
    actor: Actor,
    properties: dict[str, Any],
    geometry: dict[str, Any],
    datum: Datum,
    repair: bool,
    day: date,
) -> dict[str, Any]:
    write_scope = scope.of_user(user, "edit_hazards")
    with engine.begin() as conn:
        values, geom, district, report = _validate(conn, properties, geometry, datum, repair)
        _check_write(conn, write_scope, None, geom, district)
        set_actor(conn, actor)  # before the INSERT, for the history trigger
        hazard_id = conn.execute(
            sql_zones.insert_zone(EDITABLE),
            {**values, "district": district, "wkb": shapely.to_wkb(geom)},
        ).scalar_one()
        record(conn, actor, "hazard.create", "water_hazard", hazard_id, {"name": values["name"]})
        links.refresh_hazards(psycopg_connection(conn), [hazard_id])
        feature = _feature(conn, rules, hazard_id, day, user)
    if report:
        feature["repaired"] = report
    return feature


def update(
    engine: Engine,
    rules: RuleSet,
    user: Principal,
    actor: Actor,
    hazard_id: str,
    version: int | None,
    changes: dict[str, Any],
    geometry: dict[str, Any] | None,
    datum: Datum,
    repair: bool,
    day: date,
    *,
    precondition: bool = False,
) -> dict[str, Any]:
    """Apply ``changes`` if the zone is still at ``version``; otherwise 409/412 with the current version."""
    write_scope = scope.of_user(user, "edit_hazards")
    if version is None:
        raise VersionRequired("say which version you edited: an If-Match header or a 'version' field")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(
            f"unknown or read-only properties: {', '.join(sorted(unknown))}", code="validation.unknown_property"
        )
    with engine.begin() as conn:
        current = _feature(conn, rules, hazard_id, day, user)
        merged = {**{k: current["properties"][k] for k in EDITABLE}, **changes}
        if geometry is None:  # the stored geometry is WGS84 already
            values, geom, district, report = _validate(conn, merged, current["geometry"], Datum.WGS84, False)
        else:
            values, geom, district, report = _validate(conn, merged, geometry, datum, repair)
        _check_write(conn, write_scope, hazard_id, geom, district)
        record(
            conn,
            actor,
            "hazard.update",
            "water_hazard",
            hazard_id,
            {"from_version": version, "changed": sorted(changes) + (["geometry"] if geometry else [])},
        )
        updated = conn.execute(
            sql_zones.update_zone(EDITABLE),
            {**values, "district": district, "wkb": shapely.to_wkb(geom), "id": hazard_id, "version": version},
        ).scalar_one_or_none()
        if updated is None:
            _stale(conn, hazard_id, version, precondition)
        links.refresh_hazards(psycopg_connection(conn), [hazard_id])
        feature = _feature(conn, rules, hazard_id, day, user)
    if report:
        feature["repaired"] = report
    return feature


def _stale(conn: Connection, hazard_id: str, version: int, precondition: bool) -> None:
    current = conn.execute(sql_zones.ZONE_VERSION, {"id": hazard_id}).scalar_one()
    raise StaleVersion(
        f"water hazard {hazard_id} is at version {current}, not {version}: someone changed it since you read it; "
        "reload and apply your change again",
        current,
        precondition=precondition,
    )


def delete(
    engine: Engine, user: Principal, actor: Actor, hazard_id: str, version: int | None, *, precondition: bool = False
) -> None:
    """Soft delete of the version read (like ``update``): the zone leaves maps and queries; it and its history stay."""
    write_scope = scope.of_user(user, "edit_hazards")
    with engine.begin() as conn:
        row = conn.execute(sql_zones.LIVE_ZONE, {"id": hazard_id}).one_or_none()
        if row is None or not user.covers(row.district_code) or not write_scope.covers(row.district_code):
            raise _missing(hazard_id)
        if version is None:
            raise VersionRequired("say which version you delete: an If-Match header or a 'version' parameter")
        record(conn, actor, "hazard.delete", "water_hazard", hazard_id, {"version": version})
        deleted = conn.execute(
            sql_zones.SOFT_DELETE_ZONE,
            {"id": hazard_id, "version": version, "district": row.district_code},
        ).scalar_one_or_none()
        if deleted is None:
            _stale(conn, hazard_id, version, precondition)
        links.refresh_hazards(psycopg_connection(conn), [hazard_id])


def history(engine: Engine, user: Principal, hazard_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sql_zones.ZONE_HISTORY, {"id": hazard_id}).mappings().all()
    if not rows or not user.covers(rows[-1]["new_values"]["district_code"]):
        raise _missing(hazard_id)
    out = []
    for row in rows:
        old, new = row["old_values"] or {}, row["new_values"]
        changed = (
            sorted(k for k in new if k not in ("updated_at", "version") and old.get(k) != new.get(k)) if old else []
        )
        out.append({**row, "at": row["at"].isoformat(), "changed": changed})
    return out

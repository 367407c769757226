"""Read layers as GeoJSON, limited to the districts the caller may see."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine

from geo_safety.errors import InvalidInput, NotFound
from geo_safety.layers import get_layer
from geo_safety.services.users import Principal
from geo_safety.sql import reads as sql_reads

MAX_LIMIT = 10_000


def check_district(engine: Engine, code: str | None) -> None:
    if code is None:
        return
    with engine.connect() as conn:
        if not conn.execute(sql_reads.district_exists(), {"code": code}).scalar_one():
            raise NotFound(f"没有这个区县代码 {code!r} (unknown district)")


def district_names(engine: Engine, user: Principal) -> list[tuple[str, str]]:
    """(code, name) of the districts the account covers, for its home page."""
    with engine.connect() as conn:
        rows = conn.execute(sql_reads.district_names(), {"districts": list(user.districts) if user.districts else None})
        return [(r.code, r.name) for r in rows]


def scope_for(engine: Engine, user: Principal, district: str | None) -> tuple[str, ...] | None:
    """The districts a read may cover: 404 for an unknown district, 403 for one outside the account."""
    check_district(engine, district)
    return user.scope(district)


def required_fields(layer: str) -> tuple[str, ...]:
    """The fields a file of ``layer`` must carry, from its model (the upload page names them)."""
    return tuple(f.name for f in get_layer(layer).fields if f.required)


def feature_collection(
    engine: Engine, layer: str, districts: tuple[str, ...] | None, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    if layer not in sql_reads.FEATURE_LAYERS:
        raise NotFound(f"unknown layer {layer!r}")
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT} and offset ≥ 0")
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if districts is not None:
        params["districts"] = list(districts)
    with engine.connect() as conn:
        statement = sql_reads.features_page(layer, sql_reads.FeatureFilter(scoped=districts is not None))
        rows = conn.execute(statement, params).mappings().all()
    features = []
    for row in rows:
        props = {
            k: (float(v) if k == "depth_m" and v is not None else v)
            for k, v in row.items()
            if k not in ("geometry", "matched")
        }
        key = next(iter(props.values()))
        features.append({"type": "Feature", "id": key, "geometry": json.loads(row["geometry"]), "properties": props})
    matched = rows[0]["matched"] if rows else 0
    return {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(features),
        "features": features,
    }

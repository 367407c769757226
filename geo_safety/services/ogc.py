"""OGC API – Features (Part 1: Core, GeoJSON, HTML) over the layers and the two query results.

Standard clients (QGIS, GDAL's OAPIF driver) page through ``items`` with ``limit``/``offset`` and follow the
``next`` links; ``bbox``, ``datetime`` (on ``updated_at``) and equality filters on any listed property are
supported. Output is CRS84; ``datum=gcj02|bd09`` is a documented, non-standard extension for Chinese basemaps.
Every bad parameter is a :class:`BadParameter` (HTTP 400) with the reason.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from sqlalchemy import Engine

from geo_safety.bounds import MAX_OFFSET, RANGE_TEXT, day_in_range
from geo_safety.crs import Datum, from_wgs84, parse_datum
from geo_safety.errors import BadParameter, NotFound
from geo_safety.layers import FeatureLayer
from geo_safety.rules import today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import cache, hotspots, inspections
from geo_safety.sql import reads as sql_reads

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
]
RESERVED = {"f", "bbox", "limit", "offset", "datetime", "datum", "date", "district", "radius_m", "bbox-crs"}
#: A query collection's whole answer is kept for its bbox/filter requests (a desktop GIS sends one per pan) while
#: nothing was written (the database snapshot, as in ``services.cache``): one list per process, and only up to
#: this many features (~150 MB), so a province-wide list is read again rather than held.
WHOLE_LIST_MAX = 60_000
#: (engine, data token, rules, collection, day, scope, radius) → the whole list
_WholeKey = tuple[int, str, int, str, date, tuple[str, ...] | None, float | None]
_whole_lists: dict[_WholeKey, list[dict[str, Any]]] = {}
_whole_lock = threading.Lock()


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    table: str | None  # a feature layer (``sql.reads.FEATURE_LAYERS``); None: a query result computed by a service
    time_column: str | None = None
    params: tuple[str, ...] = ()


#: the layer collections' titles and descriptions; their columns, time and rows come from the layer's model
_LAYER_TEXT = {
    "districts": ("行政区 Districts", "District boundaries (the service area)."),
    "schools": ("学校 Schools", "School gates with students, boarding and the four security items."),
    "premises": ("校园周边经营场所 Premises", "Business premises near campuses."),
    "water_hazards": ("危险水域 Water hazard zones", "Water hazard zones with guard measures."),
}


def _layer_collection(layer: FeatureLayer) -> Collection:
    title, description = _LAYER_TEXT[layer.name]
    return Collection(layer.name, title, description, layer.name, None if layer.time is None else layer.time.name)


COLLECTIONS = {
    c.id: c
    for c in (
        *map(_layer_collection, sql_reads.FEATURE_LAYERS.values()),
        Collection(
            "due_inspections",
            "待检查对象 Due inspections",
            "Premises and water zones due for inspection on `date` (default today, Asia/Shanghai).",
            None,
            params=("date", "district"),
        ),
        Collection(
            "drowning_hotspots",
            "溺水隐患点 Drowning hotspots",
            "Unguarded water zones within `radius_m` of a school on `date`.",
            None,
            params=("date", "district", "radius_m"),
        ),
    )
}


def collection(collection_id: str) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(f"no collection {collection_id!r}; see /collections") from None


# -- parameters ---------------------------------------------------------------------------------------------
def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` in CRS84.

    >>> parse_bbox("109,21.4,109.3,21.7")
    (109.0, 21.4, 109.3, 21.7)
    """
    if value is None:
        return None
    parts = value.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise BadParameter(f"bbox must be four numbers minLon,minLat,maxLon,maxLat; got {value!r}") from None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise BadParameter(f"bbox must be four finite numbers minLon,minLat,maxLon,maxLat; got {value!r}")
    min_x, min_y, max_x, max_y = numbers
    if not (-180 <= min_x <= 180 and -180 <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise BadParameter(f"bbox {value!r} is outside lon −180…180 / lat −90…90 or has min above max")
    if min_x > max_x:
        raise BadParameter(f"bbox {value!r}: crossing the antimeridian is not supported here")
    return min_x, min_y, max_x, max_y


def parse_paging(limit: str | None, offset: str | None) -> tuple[int, int]:
    try:
        lim = DEFAULT_LIMIT if limit is None else int(limit)
        off = 0 if offset is None else int(offset)
    except ValueError:
        raise BadParameter("limit and offset must be whole numbers") from None
    if lim < 1:
        raise BadParameter("limit must be at least 1")
    if not 0 <= off <= MAX_OFFSET:
        raise BadParameter(f"offset must be 0..{MAX_OFFSET:,}")
    return min(lim, MAX_LIMIT), off


def parse_datetime(value: str | None) -> tuple[datetime | None, datetime | None] | None:
    """An instant or an interval ``start/end`` with ``..`` for an open end (RFC 3339)."""
    if value is None:
        return None

    def one(text_: str, end: bool) -> datetime | None:
        if text_ in ("..", ""):
            return None
        try:
            if len(text_) == 10:
                day = date.fromisoformat(text_)
                return datetime(
                    day.year,
                    day.month,
                    day.day,
                    23 if end else 0,
                    59 if end else 0,
                    59 if end else 0,
                    tzinfo=ZoneInfo("Asia/Shanghai"),
                )
            stamp = datetime.fromisoformat(text_.replace("Z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        except ValueError:
            raise BadParameter(f"datetime {value!r} is not an RFC 3339 instant or start/end interval") from None

    def checked(text_: str, end: bool) -> datetime | None:
        stamp = one(text_, end)
        if stamp is not None and not day_in_range(stamp):
            raise BadParameter(f"datetime {value!r} is outside {RANGE_TEXT}")
        return stamp

    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = checked(start_text, False), checked(end_text, True)
        if start and end and end < start:
            raise BadParameter(f"datetime interval {value!r} ends before it starts")
        return start, end
    instant = checked(value, False)
    return instant, checked(value, True) if len(value) == 10 else instant


def property_filters(collection_id: str, params: dict[str, str]) -> dict[str, str]:
    allowed = set(queryable(collection_id))
    filters = {k: v for k, v in params.items() if k not in RESERVED}
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise BadParameter(
            f"unknown parameter or property {', '.join(unknown)}; filterable: {', '.join(sorted(allowed))}"
        )
    return filters


def queryable(collection_id: str) -> tuple[str, ...]:
    spec = collection(collection_id)
    if spec.table:
        return sql_reads.FEATURE_LAYERS[spec.table].columns
    if collection_id == "due_inspections":
        return ("target_type", "target_id", "category", "reason", "violation", "district_code", "nearest_school_id")
    return ("hazard_id", "kind", "district_code", "nearest_school_id")


# -- reading --------------------------------------------------------------------------------------------------
def _convert(geometry: dict[str, Any], datum: Datum) -> dict[str, Any]:
    if datum in (Datum.WGS84, Datum.CGCS2000):
        return geometry
    geom = shapely.geometry.shape(geometry)
    moved = shapely.transform(geom, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], datum)))
    mapped: dict[str, Any] = shapely.geometry.mapping(moved)
    return mapped


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "__float__") and not isinstance(value, bool | int | float):
        return float(value)
    return value


def base_items(
    engine: Engine,
    spec: Collection,
    scope: tuple[str, ...] | None,
    bbox: tuple[float, float, float, float] | None,
    when: tuple[datetime | None, datetime | None] | None,
    filters: dict[str, str],
    limit: int,
    offset: int,
    feature_id: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    layer = spec.table or ""
    columns = sql_reads.FEATURE_LAYERS[layer].columns
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if scope is not None:
        params["districts"] = list(scope)
    if bbox is not None:
        params.update(minx=bbox[0], miny=bbox[1], maxx=bbox[2], maxy=bbox[3])
    if when is not None:
        if spec.time_column is None:
            raise BadParameter(f"collection {spec.id} has no time; drop datetime")
        params.update(t0=when[0], t1=when[1])
    names = tuple(sorted(filters))  # each name was checked against the layer's served columns
    params.update({f"f{n}": filters[name] for n, name in enumerate(names)})
    if feature_id is not None:
        params["fid"] = feature_id
    where = sql_reads.FeatureFilter(
        scoped=scope is not None,
        bbox=bbox is not None,
        since=when is not None and when[0] is not None,
        until=when is not None and when[1] is not None,
        properties=names,
        feature_id=feature_id is not None,
    )
    with engine.connect() as conn:
        rows = conn.execute(sql_reads.features_page(layer, where), params).mappings().all()
        if rows:
            matched = rows[0]["matched"]
        elif offset > 0:  # past the end: the window count came with no row, so count on its own
            matched = conn.execute(sql_reads.features_count(layer, where), params).scalar()
        else:
            matched = 0
    features = [
        {
            "type": "Feature",
            "id": str(r[columns[0]]),
            "geometry": json.loads(r["geometry"]),
            "properties": {k: _jsonable(r[k]) for k in columns},
        }
        for r in rows
    ]
    return features, int(matched or 0)


def _service_page(
    engine: Engine,
    rules: RuleSet,
    spec: Collection,
    scope: tuple[str, ...] | None,
    day: date,
    radius: float | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of a query collection straight from its service, with the service's exact match count."""
    if spec.id == "due_inspections":
        found = inspections.due(engine, rules, day, scope, limit=limit, offset=offset)
    else:
        found = hotspots.drowning_hotspots(engine, rules, day, scope, radius, limit=limit, offset=offset)
    return found["features"], found["numberMatched"]


def _service_slice(
    engine: Engine,
    rules: RuleSet,
    spec: Collection,
    scope: tuple[str, ...] | None,
    day: date,
    radius: float | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """``limit`` features from ``offset`` (the end of the list: fewer) and the list's full length.

    The services answer at most ``MAX_PAGE`` rows a call, so a larger OGC page (up to ``MAX_LIMIT``) is put
    together from consecutive service pages; the length is the query's own ``count(*) OVER ()``, never the
    length of what was fetched, so paging reaches the true end of every list.
    """
    page_max = inspections.MAX_PAGE if spec.id == "due_inspections" else hotspots.MAX_PAGE
    features: list[dict[str, Any]] = []
    matched: int | None = None
    while len(features) < limit:
        want = min(page_max, limit - len(features))
        chunk, count = _service_page(engine, rules, spec, scope, day, radius, want, offset + len(features))
        matched = count if matched is None else matched
        features += chunk
        if len(chunk) < want:
            break
    if not features and offset > 0:  # past the end: the empty page carries no count, so ask for it
        _, matched = _service_page(engine, rules, spec, scope, day, radius, 1, 0)
    return features, matched or 0


def computed_items(
    engine: Engine,
    rules: RuleSet,
    spec: Collection,
    scope: tuple[str, ...] | None,
    bbox: tuple[float, float, float, float] | None,
    filters: dict[str, str],
    limit: int,
    offset: int,
    params: dict[str, str],
    feature_id: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A page of a query collection and the exact number of its features that match.

    Without ``bbox``, property filters or a feature id, the page comes from the service's own paging. With
    them the whole list is read (page by page) and filtered here, so the count is exact in either case.
    """
    try:
        day = date.fromisoformat(params["date"]) if params.get("date") else today_local()
        radius = float(params["radius_m"]) if params.get("radius_m") else None
    except ValueError:
        raise BadParameter("date must be YYYY-MM-DD and radius_m a number") from None
    if not day_in_range(day):
        raise BadParameter(f"date {day.isoformat()} is outside {RANGE_TEXT}")
    if radius is not None and not (math.isfinite(radius) and 0 < radius <= 5000):
        raise BadParameter("radius_m must be in (0, 5000]")
    if bbox is None and not filters and feature_id is None:
        return _service_slice(engine, rules, spec, scope, day, radius, limit, offset)
    features = _whole_list(engine, rules, spec, scope, day, radius)
    if bbox is not None:
        box = shapely.box(*bbox)
        features = [f for f in features if shapely.intersects(shapely.geometry.shape(f["geometry"]), box)]
    for name, value in filters.items():
        features = [f for f in features if str(_flat(f["properties"].get(name))) == value]
    if feature_id is not None:
        features = [f for f in features if str(f["id"]) == feature_id]
    page = [{**f, "properties": dict(f["properties"])} for f in features[offset : offset + limit]]  # callers edit
    return page, len(features)


def _whole_list(
    engine: Engine,
    rules: RuleSet,
    spec: Collection,
    scope: tuple[str, ...] | None,
    day: date,
    radius: float | None,
) -> list[dict[str, Any]]:
    """Every feature of a query collection, in its order; the last one read is reused until anything is written."""
    key: _WholeKey = (id(engine), cache.data_token(engine), id(rules), spec.id, day, scope, radius)
    with _whole_lock:
        if key in _whole_lists:
            return _whole_lists[key]
    features, _ = _service_slice(engine, rules, spec, scope, day, radius, MAX_OFFSET + MAX_LIMIT, 0)
    if len(features) <= WHOLE_LIST_MAX:
        with _whole_lock:
            _whole_lists.clear()
            _whole_lists[key] = features
    return features


def _no_nul(params: dict[str, str], feature_id: str | None) -> None:
    """NUL cannot be in any stored text (PostgreSQL refuses it), so it is a malformed request, not a miss."""
    for name, value in params.items():
        if "\x00" in name or "\x00" in value:
            raise BadParameter(f"parameter {name.replace(chr(0), '%00')!r} contains a NUL character (%00)")
    if feature_id is not None and "\x00" in feature_id:
        raise BadParameter("the feature id contains a NUL character (%00)")


def _flat(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def items(
    engine: Engine,
    rules: RuleSet,
    collection_id: str,
    scope: tuple[str, ...] | None,
    params: dict[str, str],
    feature_id: str | None = None,
) -> dict[str, Any]:
    spec = collection(collection_id)
    _no_nul(params, feature_id)
    bbox = parse_bbox(params.get("bbox"))
    if params.get("bbox-crs") not in (None, "http://www.opengis.net/def/crs/OGC/1.3/CRS84"):
        raise BadParameter("bbox-crs: only CRS84 is supported")
    limit, offset = parse_paging(params.get("limit"), params.get("offset"))
    when = parse_datetime(params.get("datetime"))
    filters = property_filters(collection_id, params)
    try:
        datum = parse_datum(params.get("datum", "wgs84"))
    except ValueError as exc:
        raise BadParameter(str(exc)) from None
    if spec.table:
        found, matched = base_items(engine, spec, scope, bbox, when, filters, limit, offset, feature_id)
    else:
        if when is not None:
            raise BadParameter(f"collection {spec.id} has no time; use its date parameter")
        found, matched = computed_items(engine, rules, spec, scope, bbox, filters, limit, offset, params, feature_id)
    for feature in found:
        feature["geometry"] = _convert(feature["geometry"], datum)
    return {
        "type": "FeatureCollection",
        "features": found,
        "numberMatched": matched,
        "numberReturned": len(found),
        "timeStamp": datetime.now(ZoneInfo("UTC")).isoformat(timespec="seconds"),
        "_paging": {"limit": limit, "offset": offset},
    }


def extent(engine: Engine, spec: Collection, scope: tuple[str, ...] | None) -> list[float] | None:
    """The collection's bounding box in CRS84 (a query collection's: the service area's); None when empty."""
    layer, where = (
        spec.table or "districts",
        sql_reads.FeatureFilter(scoped=spec.table is not None and scope is not None),
    )
    with engine.connect() as conn:
        row = conn.execute(sql_reads.features_extent(layer, where), {"districts": list(scope or ())}).one()
    return None if row[0] is None else [float(v) for v in row]


def tile(engine: Engine, collection_id: str, scope: tuple[str, ...] | None, z: int, x: int, y: int) -> bytes:
    """A Mapbox Vector Tile of a layer (WebMercatorQuad), so maps of 100,000+ features stay fast."""
    spec = collection(collection_id)
    if not spec.table:
        raise NotFound(f"collection {collection_id} has no vector tiles; use its items")
    if not 0 <= z <= 22 or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise BadParameter(f"tile {z}/{x}/{y} is outside the WebMercatorQuad tile matrix set")
    statement = sql_reads.features_tile(spec.table, sql_reads.FeatureFilter(scoped=scope is not None))
    params = {"z": z, "x": x, "y": y, "layer": collection_id, "districts": list(scope or ())}
    with engine.connect() as conn:
        data = conn.execute(statement, params).scalar_one()
    return bytes(data)

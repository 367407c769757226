"""Keep ``premise_school_links`` and ``hazard_school_links`` in step with every write, in its transaction.

Each refresh deletes the links of the features it is given and computes them anew against every
school (``proximity.pairs_within``); a change of schools refreshes the features linked to them before
and those within reach of them after. Rows travel by ``COPY`` both ways. Linking a million premises
to 20,000 schools took ~40 s in the benchmarks (bench/RESULTS.md): most of it the nearest-school
search and writing 1.6 million links into their indexed table.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from psycopg import Connection as PgConnection
from psycopg.abc import Query

from geo_safety.proximity import HAZARD_REACH_M, PREMISE_REACH_M, pairs_within
from geo_safety.ruleset import RuleSet
from geo_safety.sql import links as sql_links

#: Refreshing every feature is cheaper than finding the affected ones when this many schools changed.
_MANY_SCHOOLS = 500
#: premises searched and written per round (the nearest-school search runs a thread per core within a round)
_LINK_ROUND = 250_000


def _read(raw: PgConnection, statement: Query, params: Sequence[object] = ()) -> pa.Table:
    """Rows of a ``COPY … TO STDOUT`` (CSV with a header) statement, as an Arrow table of strings."""
    buffer = io.BytesIO()
    with raw.cursor().copy(statement, params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    if not buffer.getbuffer().nbytes:
        return pa.table({})
    buffer.seek(0)
    options = pa_csv.ConvertOptions(column_types={"id": pa.string(), "wkb": pa.string()})
    return pa_csv.read_csv(buffer, convert_options=options)


def _schools(
    raw: PgConnection, near: np.ndarray | None = None, reach_m: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, footprints (campus, else gate) and whether each school is a kindergarten: every school, or with
    ``near`` (xmin, ymin, xmax, ymax in WGS84) those whose footprint's box lies within ``reach_m`` of that box."""
    if near is None:
        table = _read(raw, sql_links.COPY_SCHOOLS)
    else:
        # widened by the reach in degrees: ≥ 110 km a degree of latitude, ≥ 110 km·cos φ of longitude
        dy = reach_m / 110_000.0
        dx = reach_m / (110_000.0 * np.cos(np.radians(min(89.0, max(abs(near[1]), abs(near[3])) + dy))))
        box = [float(near[0] - dx), float(near[1] - dy), float(near[2] + dx), float(near[3] + dy)]
        table = _read(raw, sql_links.COPY_SCHOOLS_IN_BOX, box)
    if not table.num_rows:
        return np.empty(0, dtype=object), np.empty(0, dtype=object), np.empty(0, dtype=bool)
    ids = table.column("id").to_numpy(zero_copy_only=False)
    footprints = shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))
    return ids, footprints, table.column("kg").to_numpy().astype(bool)


def _nearest_per_class(
    fi: np.ndarray, si: np.ndarray, dist: np.ndarray, kg: np.ndarray, school_ids: np.ndarray
) -> np.ndarray:
    """Positions of each feature's nearest kindergarten and nearest other school (ties: the lowest id)."""
    klass = kg[si]
    rank = np.empty(len(school_ids), dtype=np.intp)
    rank[np.argsort(school_ids.astype(str), kind="stable")] = np.arange(len(school_ids))
    order = np.lexsort((rank[si], dist, klass, fi))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (fi[order][1:] != fi[order][:-1]) | (klass[order][1:] != klass[order][:-1])
    return order[first]


def _write(raw: PgConnection, table: str, key: str, ids: np.ndarray, school_ids: np.ndarray, dist: np.ndarray) -> int:
    if not len(ids):
        return 0
    data = pa.table({key: pa.array(ids, type=pa.string()), "school_id": school_ids, "distance_m": dist})
    sink = io.BytesIO()
    pa_csv.write_csv(data, sink, pa_csv.WriteOptions(include_header=False))
    with raw.cursor().copy(sql_links.copy_links(table, key)) as copy:
        copy.write(sink.getvalue())
    return len(ids)


def refresh_premises(raw: PgConnection, ids: Sequence[str] | None = None) -> int:
    """Link premises ``ids`` (``None``: all) to their nearest kindergarten and nearest other school within reach.

    Rules give one distance for kindergartens and one for every other kind, so these two decide whether
    a premise is in scope and which school it is reported against; the number of links is returned.
    """
    if ids is None:
        raw.execute(sql_links.TRUNCATE_PREMISE_LINKS)
        schools = _schools(raw)
        if not len(schools[0]):  # nothing to link to: reading the premises back would be wasted (a first load)
            return 0
        table = _read(raw, sql_links.COPY_ALL_PREMISES)
    else:
        if not ids:
            return 0
        raw.execute(sql_links.DELETE_PREMISE_LINKS, (list(ids),))
        table = _read(raw, sql_links.COPY_PREMISES, [list(ids)])
    if not table.num_rows:
        return 0
    x, y = table.column("x").to_numpy(), table.column("y").to_numpy()
    if ids is not None:
        schools = _schools(raw, np.array([x.min(), y.min(), x.max(), y.max()]), PREMISE_REACH_M)
    premise_ids = table.column("id").to_numpy(zero_copy_only=False)
    return _link_points(raw, premise_ids, x, y, schools)


def link_new_premises(raw: PgConnection, ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> int:
    """Links of premises just written into an empty table, from the importer's own coordinates.

    A first load of a million premises read them all back from the database to link them (~5 s); the
    importer already holds every id and point, and an empty table had no links to delete.
    """
    schools = _schools(raw)
    if not len(schools[0]) or not len(ids):
        return 0
    return _link_points(raw, ids, x, y, schools)


def _link_points(
    raw: PgConnection,
    premise_ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    schools: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> int:
    """Links of premises at (``x``, ``y``), a round of :data:`_LINK_ROUND` premises at a time (written before the
    next round is searched: a million premises' points, their projections and pairs at once took ~650 MB)."""
    written = 0
    for start in range(0, len(premise_ids), _LINK_ROUND):
        part = slice(start, start + _LINK_ROUND)
        written += _link_round(raw, premise_ids[part], x[part], y[part], schools)
    return written


def _link_round(
    raw: PgConnection,
    premise_ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    schools: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> int:
    school_ids, school_geoms, kindergarten = schools
    points = shapely.points(x, y)
    found = []
    for klass in (kindergarten, ~kindergarten):  # all a rule (kindergarten_m / other_m) can ask
        members = np.flatnonzero(klass)
        fi, si, dist = pairs_within(points, school_geoms[members], PREMISE_REACH_M, nearest=True)
        found.append((fi, members[si], dist))
    fi, si, dist = (np.concatenate(parts) for parts in zip(*found, strict=True))
    keep = _nearest_per_class(fi, si, dist, kindergarten, school_ids)  # equally near: the lowest id
    return _write(raw, "premise_school_links", "premise_id", premise_ids[fi[keep]], school_ids[si[keep]], dist[keep])


def refresh_hazards(raw: PgConnection, ids: Sequence[str] | None = None) -> int:
    """Recompute the school links of water zones ``ids`` (``None``: all); removed zones keep none."""
    if ids is None:
        raw.execute(sql_links.TRUNCATE_ZONE_LINKS)
        table = _read(raw, sql_links.COPY_ALL_ZONES)
    else:
        if not ids:
            return 0
        raw.execute(sql_links.DELETE_ZONE_LINKS, (list(ids),))
        table = _read(raw, sql_links.COPY_ZONES, (list(ids),))
    if not table.num_rows:
        return 0
    zones = shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))
    school_ids, school_geoms, _ = _schools(raw, None if ids is None else shapely.total_bounds(zones), HAZARD_REACH_M)
    fi, si, dist = pairs_within(zones, school_geoms, HAZARD_REACH_M)
    zone_ids = table.column("id").to_numpy(zero_copy_only=False)
    return _write(raw, "hazard_school_links", "hazard_id", zone_ids[fi], school_ids[si], dist)


def refresh_around_schools(raw: PgConnection, school_ids: Sequence[str] | None = None) -> None:
    """After schools ``school_ids`` (``None``: any) were added, moved, reshaped or removed."""
    if school_ids is None or len(school_ids) > _MANY_SCHOOLS:
        refresh_all(raw)
        return
    ids = list(school_ids)
    premises = raw.execute(sql_links.PREMISES_AROUND_SCHOOLS, {"ids": ids, "reach": PREMISE_REACH_M}).fetchall()
    hazards = raw.execute(sql_links.ZONES_AROUND_SCHOOLS, {"ids": ids, "reach": HAZARD_REACH_M}).fetchall()
    refresh_premises(raw, [r[0] for r in premises])
    refresh_hazards(raw, [r[0] for r in hazards])


def cover_rules(rules: RuleSet) -> bool:
    """Whether the links hold every pair the due list needs (rule distances and zone radius within reach)."""
    return max(rules.distances_m, default=0) <= PREMISE_REACH_M and rules.hazards.radius_m <= HAZARD_REACH_M


def cover_radius(radius_m: float) -> bool:
    """Whether the zone links hold every zone–school pair within ``radius_m``."""
    return radius_m <= HAZARD_REACH_M


def refresh_all(raw: PgConnection) -> None:
    refresh_premises(raw)
    refresh_hazards(raw)

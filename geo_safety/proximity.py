"""Which features lie within a distance of which schools, in geodesic metres, computed in memory.

The due list and the hotspot ranking both start from "pairs (feature, school) closer than d". Asking
PostGIS for them at query time costs a spheroid distance per pair (~180 µs between a river and a
campus polygon): 14–40 s for one district at city or province scale. So the pairs within a fixed
reach are computed when features or schools are written and kept in link tables (``services.links``).

Distances are planar in a transverse Mercator projection (scale 1 on its central meridian) centred
on each 1° band of longitude, divided by the projection's scale between the two shapes (within 0.5°
of the meridian the scale is at most 1 + 4·10⁻⁵; corrected, what remains is below a centimetre at
these distances), well inside the 0.5 m the programme requires of a geodesic distance (checked
against PostGIS geography and pyproj's geodesic in the tests).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import repeat

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

#: Premises–school pairs kept: covers every rule distance up to this (larger rules are measured live).
PREMISE_REACH_M = 500.0
#: Water zone–school pairs kept: covers hotspot radii up to this (larger radii are measured live).
HAZARD_REACH_M = 1000.0
_BAND_DEG = 1.0
_M_PER_DEG = 110_000.0  # a little under the shortest degree of latitude: margins err on the wide side
_EARTH_RADIUS_M = 6_371_000.0
_FEATURES_PER_THREAD = 50_000  # below this a thread costs more than it saves
_MAX_THREADS = 4


@lru_cache(maxsize=64)
def _to_local(band: int) -> Transformer:
    lon_0 = (band + 0.5) * _BAND_DEG
    return Transformer.from_crs(4326, f"+proj=tmerc +lon_0={lon_0} +k=1 +ellps=WGS84 +units=m", always_xy=True)


def _project(geoms: NDArray[np.object_], band: int) -> NDArray[np.object_]:
    transformer = _to_local(band)
    projected: NDArray[np.object_] = shapely.transform(
        geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    return projected


def _parts(features: int) -> int:
    """How many threads share a band's features: one per core for large inputs (a first load's million
    premises: 5 s of nearest-school search on one core), one for the few features of an edit."""
    return max(1, min(os.cpu_count() or 1, _MAX_THREADS, features // _FEATURES_PER_THREAD))


def _band_pairs(
    features: NDArray[np.object_],
    tree: shapely.STRtree,
    local_schools: NDArray[np.object_],
    band: int,
    reach_m: float,
    nearest: bool,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Pairs of ``features`` (WGS84) and the band's projected schools within ``reach_m``: positions, metres."""
    local_features = _project(features, band)
    if nearest:
        fi, si = tree.query_nearest(local_features, max_distance=reach_m, all_matches=True)
    else:
        fi, si = tree.query(local_features, predicate="dwithin", distance=reach_m)
    # planar length / the projection's scale k = 1 + x²/2R², x taken midway between the two shapes' centres
    # (for shapes within a few km of each other that x is off by < 5 km: < 1 cm at 2 km)
    fx = shapely.bounds(local_features[fi])
    sx = shapely.bounds(local_schools[si])
    x_mid = (fx[:, 0] + fx[:, 2] + sx[:, 0] + sx[:, 2]) / 4
    planar = shapely.distance(local_features[fi], local_schools[si])
    return fi, si, planar / (1 + x_mid**2 / (2 * _EARTH_RADIUS_M**2))


def pairs_within(
    features: NDArray[np.object_], schools: NDArray[np.object_], reach_m: float, *, nearest: bool = False
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Index pairs (feature, school) at most ``reach_m`` apart, and their distance in metres (0 = touching).

    Both arrays hold WGS84 geometries. Features are grouped by the 1° band of their centre; each
    band is measured in its own local projection together with the schools near it. ``nearest``:
    only each feature's nearest school (all of them when several are equally near).
    """
    features = np.asarray(features, dtype=object)
    schools = np.asarray(schools, dtype=object)
    empty = np.empty(0, dtype=np.intp)
    if not len(features) or not len(schools):
        return empty, empty, np.empty(0)
    fb = shapely.bounds(features)
    sb = shapely.bounds(schools)
    bands = np.floor((fb[:, 0] + fb[:, 2]) / 2 / _BAND_DEG).astype(int)
    out_f, out_s, out_d = [], [], []
    for band in np.unique(bands):
        members = np.flatnonzero(bands == band)
        box = fb[members]
        lat = np.abs(np.concatenate([box[:, 1], box[:, 3]])).max()
        margin_y = reach_m / _M_PER_DEG
        margin_x = reach_m / (_M_PER_DEG * np.cos(np.radians(min(89.0, lat + margin_y))))
        near = np.flatnonzero(
            (sb[:, 2] >= box[:, 0].min() - margin_x)
            & (sb[:, 0] <= box[:, 2].max() + margin_x)
            & (sb[:, 3] >= box[:, 1].min() - margin_y)
            & (sb[:, 1] <= box[:, 3].max() + margin_y)
        )
        if not len(near):
            continue
        local_schools = _project(schools[near], int(band))
        tree = shapely.STRtree(local_schools)
        parts = np.array_split(members, _parts(len(members)))
        args = (repeat(tree), repeat(local_schools), repeat(int(band)), repeat(reach_m), repeat(nearest))
        if len(parts) == 1:
            done = list(map(_band_pairs, [features[members]], *args))
        else:
            with ThreadPoolExecutor(len(parts)) as pool:  # GEOS and PROJ release the GIL: one part per core
                done = list(pool.map(_band_pairs, [features[part] for part in parts], *args))
        for part, (fi, si, dist) in zip(parts, done, strict=True):
            out_f.append(part[fi])
            out_s.append(near[si])
            out_d.append(dist)
    if not out_f:
        return empty, empty, np.empty(0)
    return np.concatenate(out_f), np.concatenate(out_s), np.concatenate(out_d)

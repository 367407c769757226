"""Datums and coordinate reference systems.

Storage is EPSG:4326 (WGS84). Chinese map apps publish coordinates in GCJ-02 (AMap, Tencent,
WeChat) or BD-09 (Baidu), which sit some 500 m off WGS84 around Beihai: a 200 m rule is meaningless
unless every entry point declares its datum and we convert. CGCS2000 differs from WGS84 by
centimetres and is treated as WGS84.

The GCJ-02 forward transform is the widely published reconstruction of the official algorithm;
its inverse has no closed form, so we solve it by fixed-point iteration to well under a millimetre.
All functions are vectorised over numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod

STORAGE_SRID = 4326

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_GEOD = Geod(ellps="WGS84")


class Datum(StrEnum):
    """Datums accepted at every entry point."""

    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def parse_datum(value: str | Datum) -> Datum:
    """Parse a datum name, case-insensitively, with a message that lists the choices.

    >>> parse_datum("GCJ02")
    <Datum.GCJ02: 'gcj02'>
    """
    try:
        return Datum(str(value).strip().lower().replace("-", ""))
    except ValueError:
        choices = ", ".join(d.value for d in Datum)
        raise ValueError(f"unknown datum {value!r}; use one of: {choices}") from None


def _in_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """GCJ-02 only shifts coordinates inside this rough box; outside it is the identity."""
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def _delta_lat(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _delta_lon(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 → GCJ-02.

    >>> [round(float(v), 6) for v in wgs84_to_gcj02(116.404, 39.915)]
    [116.410244, 39.916404]
    """
    lon, lat = _arrays(lon, lat)
    dlat = _delta_lat(lon - 105.0, lat - 35.0)
    dlon = _delta_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _invert(
    forward: Callable[[NDArray[np.float64], NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]],
    target_lon: NDArray[np.float64],
    target_lat: NDArray[np.float64],
    start_lon: ArrayLike,
    start_lat: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve ``forward(x) = target`` by fixed-point iteration (the shift varies slowly in space)."""
    lon, lat = np.array(start_lon, dtype=np.float64), np.array(start_lat, dtype=np.float64)
    for _ in range(30):
        f_lon, f_lat = forward(lon, lat)
        err_lon, err_lat = f_lon - target_lon, f_lat - target_lat
        lon, lat = lon - err_lon, lat - err_lat
        finite = np.isfinite(err_lon) & np.isfinite(err_lat)
        if (
            not finite.any()
            or max(np.abs(err_lon[finite]).max(initial=0), np.abs(err_lat[finite]).max(initial=0)) < 1e-11
        ):
            break
    return lon, lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 → WGS84, the exact inverse of :func:`wgs84_to_gcj02` (iterated to < 1 mm)."""
    lon, lat = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, lon, lat, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 → BD-09.

    >>> [round(float(v), 6) for v in gcj02_to_bd09(116.404, 39.915)]
    [116.410369, 39.921337]
    """
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BD-09 → GCJ-02: the published approximate inverse, then refined to the exact inverse."""
    bd_lon, bd_lat = _arrays(lon, lat)
    x, y = bd_lon - 0.0065, bd_lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, bd_lon, bd_lat, z * np.cos(theta), z * np.sin(theta))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BD-09 → WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, datum: Datum | str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert coordinates in ``datum`` to WGS84 (the storage datum)."""
    datum = parse_datum(datum)
    if datum is Datum.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if datum is Datum.BD09:
        return bd09_to_wgs84(lon, lat)
    return _arrays(lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, datum: Datum | str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert WGS84 coordinates to ``datum`` (for GCJ-02/BD-09 basemaps and exports)."""
    datum = parse_datum(datum)
    if datum is Datum.GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if datum is Datum.BD09:
        return wgs84_to_bd09(lon, lat)
    return _arrays(lon, lat)


def geometries_to_wgs84(geoms: ArrayLike, datum: Datum | str) -> NDArray[np.object_]:
    """Convert an array of shapely geometries from ``datum`` to WGS84, all vertices at once."""
    datum = parse_datum(datum)
    geoms = np.asarray(geoms, dtype=object)
    if datum in (Datum.WGS84, Datum.CGCS2000):
        return geoms

    def _convert(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], datum)
        return np.column_stack([lon, lat])

    converted: NDArray[np.object_] = shapely.transform(geoms, _convert)
    return converted


def geodesic_distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray[np.float64]:
    """Geodesic distance on the WGS84 ellipsoid, in metres (the reference for every distance).

    >>> round(float(geodesic_distance_m(109.1, 21.5, 109.1, 21.501)), 2)
    110.72
    """
    x1, y1, x2, y2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = _GEOD.inv(x1, y1, x2, y2)
    return np.asarray(dist, dtype=np.float64)


def geodesic_destination(
    lon: ArrayLike, lat: ArrayLike, azimuth_deg: ArrayLike, distance_m: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The point ``distance_m`` metres from (lon, lat) along ``azimuth_deg`` (geodesic)."""
    x, y, az, dist = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (lon, lat, azimuth_deg, distance_m))
    )
    lon2, lat2, _ = _GEOD.fwd(x, y, az, dist)
    return np.asarray(lon2), np.asarray(lat2)

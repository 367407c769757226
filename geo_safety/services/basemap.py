"""The field worker's basemap, served by the app itself (field networks often reach nothing outside).

Either a bureau's offline tile file (``GEO_SAFETY_BASEMAP_FILE``: MBTiles or PMTiles v3), opened read-only
and served tile by tile so a phone can cache the day's area (browsers do not cache the range requests a
PMTiles client would make), or, without one, a light vector basemap drawn from the bundled real data: the
district polygons as land, their outlines, and the township seats with their Chinese names.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import mmap
import sqlite3
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

try:  # protomaps' reader; only PMTiles files need it
    from pmtiles import tile as pmt

    _HAVE_PMTILES = True
except ImportError:  # pragma: no cover
    _HAVE_PMTILES = False

from geo_safety.services.sample import TOWN_FILE
from geo_safety.sql import districts as sql_districts

#: tile format name (MBTiles ``metadata.format``) → content type
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "pbf": "application/x-protobuf",
}
RASTER_FORMATS = frozenset({"png", "jpg", "jpeg", "webp", "avif"})
#: Web Mercator stops here; deeper zooms exist in no tile set anyone ships.
MAX_ZOOM = 24
#: a few metres: land polygons stay true to the coast at street zoom, the payload stays small
SIMPLIFY_DEG = 3e-5
GRID_DEG = 1e-5
FEATURES_URL = "/api/v1/basemap/features"
TILES_URL = "/tiles/{z}/{x}/{y}"
BUNDLED_ATTRIBUTION = "区界：districts 表（默认为 DataV.GeoAtlas，GCJ-02 转 WGS84）；乡镇驻地：近似位置"


class BasemapFileError(Exception):
    """The configured basemap file cannot be served; the message says why (raised at startup)."""


@dataclass(frozen=True)
class Tile:
    data: bytes
    content_type: str
    #: stored gzip-compressed (vector tiles usually are): sent with ``Content-Encoding: gzip``
    gzipped: bool


def tile_in_range(z: int, x: int, y: int) -> bool:
    """An XYZ address that can exist at all (anything else is a 404, never a file lookup).

    >>> tile_in_range(0, 0, 0), tile_in_range(2, 3, 3), tile_in_range(2, 4, 0), tile_in_range(-1, 0, 0)
    (True, True, False, False)
    """
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def sniff_format(data: bytes) -> str:
    """The tile format from its first bytes, for files whose metadata does not say.

    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n"), sniff_format(b"\\xff\\xd8\\xff\\xe0"), sniff_format(b"\\x1f\\x8b\\x08")
    ('png', 'jpg', 'pbf')
    """
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "avif"
    return "pbf"


class TileFile:
    """What every tile file offers: its description and ``tile(z, x, y)`` in XYZ addressing."""

    container = ""
    format = "png"
    minzoom = 0
    maxzoom = MAX_ZOOM
    bounds: tuple[float, float, float, float] | None = None
    attribution: str | None = None
    name: str | None = None

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (at shutdown)."""

    def _make_tile(self, data: bytes, gzipped: bool | None = None) -> Tile:
        zipped = data[:2] == b"\x1f\x8b" if gzipped is None else gzipped
        return Tile(bytes(data), CONTENT_TYPES[self.format], zipped and self.format == "pbf")

    def describe(self) -> dict[str, Any]:
        """The answer of ``GET /api/v1/basemap``: enough for a phone to draw it and cache the day's tiles."""
        return {
            "kind": "file",
            "container": self.container,
            "tiles_url": TILES_URL,
            "format": self.format,
            "raster": self.format in RASTER_FORMATS,
            "minzoom": self.minzoom,
            "maxzoom": self.maxzoom,
            "bounds": list(self.bounds) if self.bounds else None,
            "attribution": self.attribution,
            "name": self.name,
            "features_url": FEATURES_URL,
        }


def _bounds(value: object) -> tuple[float, float, float, float] | None:
    """``"w,s,e,n"`` (MBTiles metadata) as numbers; ``None`` when absent or malformed."""
    try:
        west, south, east, north = (float(part) for part in str(value).split(","))
    except ValueError:
        return None
    return (west, south, east, north)


def _format_name(value: object, path: Path) -> str:
    name = str(value).strip().lower()
    if name not in CONTENT_TYPES:
        raise BasemapFileError(f"basemap file {path.name}: tile format {value!r} is not one of png, jpg, webp, pbf")
    return name


class MBTiles(TileFile):
    """An MBTiles file (SQLite; TMS row order), opened read-only: the app can never change a bureau's file."""

    container = "mbtiles"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one connection shared by the worker threads; a tile read is sub-millisecond
        try:
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            first = self._conn.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
            meta: dict[str, str] = {}
            if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'metadata'").fetchone():
                meta = {str(k): str(v) for k, v in self._conn.execute("SELECT name, value FROM metadata")}
            zooms = self._conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        except sqlite3.Error as exc:
            raise BasemapFileError(f"basemap file {path.name} is not a readable MBTiles file: {exc}") from None
        if first is None:
            raise BasemapFileError(f"basemap file {path.name} holds no tiles")
        self.format = _format_name(meta["format"], path) if meta.get("format") else sniff_format(first[0])
        self.minzoom = int(meta.get("minzoom") or zooms[0])
        self.maxzoom = int(meta.get("maxzoom") or zooms[1])
        self.bounds = _bounds(meta.get("bounds"))
        self.attribution = meta.get("attribution")
        self.name = meta.get("name")

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),  # MBTiles counts rows from the south (TMS)
            ).fetchone()
        return self._make_tile(row[0]) if row and row[0] else None

    def close(self) -> None:
        self._conn.close()


class PMTiles(TileFile):
    """A PMTiles v3 archive read with the ``pmtiles`` package (protomaps) from a read-only memory map."""

    container = "pmtiles"

    def __init__(self, path: Path) -> None:
        if not _HAVE_PMTILES:
            raise BasemapFileError("PMTiles basemaps need the 'pmtiles' package (pip install pmtiles)")
        self.path = path
        with open(path, "rb") as file:
            try:
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:
                raise BasemapFileError(f"basemap file {path.name} is empty") from None
        try:
            header = pmt.deserialize_header(self._map[0:127])
        except Exception:
            self._map.close()
            raise BasemapFileError(f"basemap file {path.name} is not a PMTiles v3 archive") from None
        kinds = pmt.TileType
        formats = {kinds.PNG: "png", kinds.JPEG: "jpg", kinds.WEBP: "webp", kinds.AVIF: "avif", kinds.MVT: "pbf"}
        problem = None
        if header["tile_type"] not in formats:
            problem = f"tile type {header['tile_type'].name} is not served (png, jpg, webp, avif or mvt)"
        elif header["internal_compression"] != pmt.Compression.GZIP:
            problem = f"directories compressed with {header['internal_compression'].name} (only gzip is read)"
        elif header["tile_compression"] not in (pmt.Compression.NONE, pmt.Compression.GZIP):
            problem = f"tiles compressed with {header['tile_compression'].name} (only none or gzip)"
        if problem:
            self._map.close()
            raise BasemapFileError(f"basemap file {path.name}: {problem}")
        self._header = header
        self._gzipped = header["tile_compression"] == pmt.Compression.GZIP
        self.format = formats[header["tile_type"]]
        self.minzoom, self.maxzoom = header["min_zoom"], header["max_zoom"]
        west, south = header["min_lon_e7"] / 1e7, header["min_lat_e7"] / 1e7
        self.bounds = (west, south, header["max_lon_e7"] / 1e7, header["max_lat_e7"] / 1e7)
        try:
            meta = self._read_metadata()
        except Exception:
            self._map.close()
            raise BasemapFileError(f"basemap file {path.name}: its metadata cannot be read") from None
        self.attribution = meta.get("attribution")
        self.name = meta.get("name")
        self._directory = lru_cache(maxsize=256)(self._read_directory)

    def _read_metadata(self) -> dict[str, Any]:
        start, length = self._header["metadata_offset"], self._header["metadata_length"]
        raw = self._map[start : start + length]
        meta = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw or b"{}")
        return meta if isinstance(meta, dict) else {}

    def _read_directory(self, offset: int, length: int) -> list[Any]:
        return pmt.deserialize_directory(self._map[offset : offset + length])

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        if not self.minzoom <= z <= self.maxzoom:
            return None
        tile_id = pmt.zxy_to_tileid(z, x, y)
        offset, length = self._header["root_offset"], self._header["root_length"]
        for _depth in range(4):  # the format allows at most root + 3 leaf levels
            entry = pmt.find_tile(self._directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length == 0:  # a leaf directory
                offset, length = self._header["leaf_directory_offset"] + entry.offset, entry.length
                continue
            start = self._header["tile_data_offset"] + entry.offset
            return self._make_tile(self._map[start : start + entry.length], self._gzipped)
        return None

    def close(self) -> None:
        self._map.close()


def open_tile_file(path: Path) -> TileFile:
    """Open and check the configured file; a clear ``BasemapFileError`` at startup rather than broken maps later."""
    path = path.expanduser()
    if not path.is_file():
        raise BasemapFileError(f"GEO_SAFETY_BASEMAP_FILE: {path} is not a file")
    with open(path, "rb") as file:
        magic = file.read(16)
    if magic.startswith(b"SQLite format 3\x00"):
        return MBTiles(path)
    if magic.startswith(b"PMTiles"):
        return PMTiles(path)
    raise BasemapFileError(f"GEO_SAFETY_BASEMAP_FILE: {path.name} is neither MBTiles (SQLite) nor PMTiles v3")


def describe_bundled() -> dict[str, Any]:
    """``GET /api/v1/basemap`` without a file: draw the vector basemap from ``features_url``."""
    return {
        "kind": "bundled",
        "container": None,
        "tiles_url": None,
        "format": "geojson",
        "raster": False,
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": None,
        "attribution": BUNDLED_ATTRIBUTION,
        "name": "简明底图",
        "features_url": FEATURES_URL,
    }


# --- the bundled vector basemap -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundledBasemap:
    body: bytes  # compact GeoJSON (UTF-8)
    etag: str


_bundled_lock = threading.Lock()
_bundled: dict[str, BundledBasemap] = {}


def _town_rows(path: Path) -> tuple[str, list[dict[str, str]]]:
    if not path.is_file():
        return "", []
    raw = path.read_bytes()
    return hashlib.sha256(raw).hexdigest(), list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


def bundled_features(engine: Engine, data_dir: Path) -> BundledBasemap:
    """Land, district lines and town seats as one small GeoJSON, rebuilt only when the districts or the town file
    change (its ETag is that data version, so a phone revalidates it for free)."""
    towns_hash, towns = _town_rows(data_dir / TOWN_FILE)
    with engine.connect() as conn:
        version = conn.execute(sql_districts.BASEMAP_VERSION).scalar_one()
        etag = 'W/"' + hashlib.sha256(f"{version}:{towns_hash}".encode()).hexdigest()[:32] + '"'
        with _bundled_lock:
            if etag in _bundled:
                return _bundled[etag]
        params = {"tolerance": SIMPLIFY_DEG, "grid": GRID_DEG}
        rows = conn.execute(sql_districts.BASEMAP_SHAPES, params).mappings().all()
    result = BundledBasemap(_features_json(rows, towns), etag)
    with _bundled_lock:
        _bundled.clear()
        _bundled[etag] = result
    return result


def _features_json(rows: Any, towns: list[dict[str, str]]) -> bytes:
    """Town seats are WGS84 already (data/README.md); only those in a loaded district are drawn."""
    features: list[dict[str, Any]] = []
    for row in rows:
        for kind, column in (("land", "land"), ("district_line", "line")):
            props = {"class": kind, "code": row["code"], "name": row["name"]}
            features.append({"type": "Feature", "properties": props, "geometry": json.loads(row[column])})
    codes = {row["code"] for row in rows}
    for town in towns:
        if town.get("district_code") not in codes:
            continue
        point = {"type": "Point", "coordinates": [round(float(town["lon"]), 5), round(float(town["lat"]), 5)]}
        props = {"class": "town", "code": town["code"], "name": town["name"], "district_code": town["district_code"]}
        features.append({"type": "Feature", "properties": props, "geometry": point})
    collection: dict[str, Any] = {"type": "FeatureCollection", "attribution": BUNDLED_ATTRIBUTION}
    if rows:
        collection["bbox"] = [
            round(min(r["xmin"] for r in rows), 5),
            round(min(r["ymin"] for r in rows), 5),
            round(max(r["xmax"] for r in rows), 5),
            round(max(r["ymax"] for r in rows), 5),
        ]
    collection["features"] = features
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode()

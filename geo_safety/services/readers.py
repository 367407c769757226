"""Read a layer file in chunks: GeoJSON, GeoPackage, zipped or plain Shapefile, KML, CSV.

The format is decided from the content, never by GDAL's guesses, and GDAL reads only a vetted copy
in a private folder with network access off (see :mod:`geo_safety.services.sniff` for why).

Each chunk is a ``pandas.DataFrame`` whose ``geometry`` column holds shapely geometries (or is
absent for tables without geometry) and whose index is the 1-based row number in the file, so
every later error can name the row. Large files are streamed: only one chunk is in memory.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import tempfile
import warnings
import weakref
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from geo_safety.errors import ImportRejected
from geo_safety.services import sniff

VECTOR_SUFFIXES = {
    ".geojson": sniff.GEOJSON,
    ".json": sniff.GEOJSON,
    ".gpkg": sniff.GPKG,
    ".shp": sniff.SHAPEFILE,
    ".zip": sniff.ZIPPED,
    ".kml": sniff.KML,
}
CSV_SUFFIXES = {".csv", ".txt"}
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom")
#: Zip archives whose content would unpack beyond this are refused (zip bombs).
MAX_UNZIPPED_BYTES = 4 * 1024**3
MAX_ZIP_RATIO = 200
#: GDAL settings for every read: no URL may be opened (``/vsicurl/`` allows only this unreachable name),
#: no SQL functions from views or triggers, no VirtualOGR access to other files, no stdin, no styles fetched.
GDAL_HARDENING = {
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/vsicurl/http://geo-safety.invalid/no-network",
    "ALLOW_OGR_SQL_FUNCTIONS_FROM_TRIGGER_AND_VIEW": "NO",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "CPL_ALLOW_VSISTDIN": "NO",
    "GDAL_ALLOW_REMOTE_RESOURCE_TO_ACCESS_LOCAL_FILE": "NO",
    "LIBKML_RESOLVE_STYLE": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
}
#: How GDAL is told which driver to use, where it has a prefix for that (other formats are checked by content).
_DRIVER_PREFIX = {sniff.GEOJSON: "GeoJSON:", sniff.GPKG: "GPKG:"}
_PLAIN_PATH = re.compile(r"^/[\w.\-/]+$")


def _harden_gdal() -> None:
    """Process-wide and permanent: the service never asks GDAL for anything remote."""
    pyogrio.set_gdal_config_options(GDAL_HARDENING)


def text_encoding(name: str, encoding: str | None) -> str | None:
    """The codec's canonical name, if it is a text encoding (``rot13``, ``zlib``, ``hex`` are not)."""
    if encoding is None:
        return None
    try:
        info = codecs.lookup(encoding)
        "a".encode(info.name).decode(info.name)  # non-text codecs (bytes→bytes, str→str) raise LookupError
    except LookupError:
        raise ImportRejected(name, f"{encoding[:20]!r} is not a text encoding (e.g. utf-8, gbk)") from None
    except UnicodeError:
        pass
    return info.name


@dataclass
class FileReader:
    """A file opened for chunked reading; ``total`` is the number of rows when known up front.

    The format comes from the content (see :mod:`geo_safety.services.sniff`), and must agree with the
    name. GDAL only ever sees a private folder holding the vetted file under a plain name (``layer.*``):
    never the caller's path, which could spell a GDAL prefix (``CSV:``, ``/vsicurl/``).
    """

    path: Path
    chunk_rows: int = 100_000
    encoding: str | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = self.path.name
        self.encoding = text_encoding(self.name, self.encoding)
        suffix = self.path.suffix.lower()
        if suffix in CSV_SUFFIXES:
            self.format = sniff.CSV
        elif suffix in VECTOR_SUFFIXES:
            self.format = VECTOR_SUFFIXES[suffix]
        else:
            known = ", ".join(sorted({*VECTOR_SUFFIXES, *CSV_SUFFIXES}))
            raise ImportRejected(self.name, f"unknown file type {suffix[:12]!r}; use one of {known}")
        if not self.path.is_file():
            raise ImportRejected(self.name, "file not found")
        if self.path.stat().st_size == 0:
            raise ImportRejected(self.name, "the file is empty")
        content = sniff.sniff(self.path, self.encoding)
        if content == "XML" and self.format == sniff.KML:
            sniff.check_kml(self.path, self.name)  # names what is wrong (a DOCTYPE, another root element)
        if content != self.format:
            raise ImportRejected(
                self.name, f"not {sniff.LABELS[self.format]}: the content is {sniff.describe(content)}"
            )
        self.folder = Path(tempfile.mkdtemp(prefix="gs-read-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, True)
        try:
            self.source = self._stage()
            self.total = self._count()
        except BaseException:
            self._cleanup()
            raise
        if self.total == 0:
            raise ImportRejected(self.name, "the file holds no features")

    # -- inspection ------------------------------------------------------------------------------
    def _stage(self) -> str:
        """Check the content and place it in the private folder; returns the name GDAL opens (CSV: none)."""
        if self.format == sniff.CSV:
            return ""
        if not _PLAIN_PATH.match(str(self.folder)) or str(self.folder).startswith("/vsi"):
            raise RuntimeError("the temporary folder's path is not plain; set TMPDIR to a plain local folder")
        if self.format == sniff.ZIPPED:
            self._check_zip()
            parts = sniff.unpack_shapefile(self.path, self.folder, self.name, MAX_UNZIPPED_BYTES)
            sniff.check_shapefile(parts, self.name)
            return str(parts[".shp"])
        if self.format == sniff.SHAPEFILE:
            parts = {ext: self._link(found, ext) for ext in sniff.SHAPE_PARTS if (found := self._sibling(ext))}
            sniff.check_shapefile(parts, self.name)
            return str(parts[".shp"])
        target = self._link(self.path, self.path.suffix.lower())
        if self.format == sniff.GEOJSON:
            sniff.check_geojson(target, self.name)
        elif self.format == sniff.GPKG:
            sniff.check_gpkg(target, self.name)
        elif self.format == sniff.KML:
            sniff.check_kml(target, self.name)
        return _DRIVER_PREFIX.get(self.format, "") + str(target)

    def _sibling(self, ext: str) -> Path | None:
        """A plain Shapefile's part next to it (``.dbf`` or ``.DBF``)."""
        for candidate in (self.path.with_suffix(ext), self.path.with_suffix(ext.upper())):
            if candidate.is_file():
                return candidate
        return None

    def _link(self, source: Path, ext: str) -> Path:
        target = self.folder / f"layer{ext}"
        os.symlink(source.resolve(), target)
        return target

    def _check_zip(self) -> None:
        try:
            with zipfile.ZipFile(self.path) as archive:
                infos = archive.infolist()
        except zipfile.BadZipFile:
            raise ImportRejected(self.name, "not a readable zip archive") from None
        unpacked = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
        if unpacked > MAX_UNZIPPED_BYTES or unpacked / packed > MAX_ZIP_RATIO:
            raise ImportRejected(
                self.name, f"refusing a zip that unpacks to {unpacked:,} bytes ({unpacked / packed:.0f}× its size)"
            )

    def _gdal_message(self, exc: Exception) -> str:
        """GDAL's reason, naming the upload by its own name and never a server path."""
        text = str(exc).replace(self.source, self.name).replace(str(self.folder), "")
        return _short(text) or type(exc).__name__

    def _count(self) -> int | None:
        if self.format == sniff.CSV:
            return None  # counted while streaming
        _harden_gdal()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info = pyogrio.read_info(self.source, force_feature_count=True, encoding=self.encoding)
        except Exception as exc:  # pyogrio raises several GDAL-derived types
            raise ImportRejected(
                self.name, f"cannot read the file as {self.format}: {self._gdal_message(exc)}"
            ) from None
        return int(info["features"])

    # -- chunks ------------------------------------------------------------------------------------
    def chunks(self) -> Iterator[pd.DataFrame]:
        try:
            if self.format == sniff.CSV:
                yield from self._csv_chunks()
            else:
                yield from self._vector_chunks()
        finally:
            self._cleanup()

    def _vector_chunks(self) -> Iterator[pd.DataFrame]:
        """Stream Arrow record batches from GDAL: one pass over the file, columns stay columnar."""
        start = 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pyogrio.open_arrow(
                    self.source, batch_size=self.chunk_rows, encoding=self.encoding, use_pyarrow=True
                ) as (meta, batches):
                    geometry_name = meta["geometry_name"] or "wkb_geometry"
                    for batch in batches:
                        yield self._from_arrow(batch, geometry_name, start)
                        start += batch.num_rows
        except UnicodeDecodeError as exc:
            raise ImportRejected(self.name, f"unreadable encoding ({exc.reason}); save the file as UTF-8") from exc
        except ImportRejected:
            raise
        except Exception as exc:  # pyogrio raises several GDAL-derived types
            raise ImportRejected(
                self.name, f"cannot read rows from {start + 1} on: {self._gdal_message(exc)}", row=start + 1
            ) from None

    @staticmethod
    def _from_arrow(batch: pa.RecordBatch, geometry_name: str, start: int) -> pd.DataFrame:
        names = [n for n in batch.schema.names if n != geometry_name]
        data = batch.select(names).to_pandas(types_mapper=_ARROW_TYPES.get)
        wkb = batch.column(geometry_name) if geometry_name in batch.schema.names else None
        geoms = wkb_to_shapely(wkb) if wkb is not None else np.full(batch.num_rows, None, dtype=object)
        data["geometry"] = shapely.force_2d(geoms) if shapely.has_z(geoms).any() else geoms
        data.index = pd.RangeIndex(start + 1, start + 1 + batch.num_rows)
        return data

    def _csv_chunks(self) -> Iterator[pd.DataFrame]:
        encoding = self.encoding or "utf-8-sig"
        start = 0
        try:
            reader = pd.read_csv(
                self.path,
                chunksize=self.chunk_rows,
                dtype=str,
                keep_default_na=False,
                encoding=encoding,
                skipinitialspace=True,
            )
            for frame in reader:
                frame = frame.replace({"": None})
                frame.index = pd.RangeIndex(start + 1, start + 1 + len(frame))
                start += len(frame)
                yield self._csv_geometry(frame)
        except UnicodeDecodeError as exc:
            raise ImportRejected(
                self.name,
                f"unreadable encoding: not {encoding} at byte {exc.start} (GBK? save the file as UTF-8 or pass "
                "--encoding gbk)",
                row=start + 1,
            ) from exc
        except pd.errors.EmptyDataError as exc:
            raise ImportRejected(self.name, "the file holds no rows") from exc
        except pd.errors.ParserError as exc:
            raise ImportRejected(self.name, f"malformed CSV: {_short(str(exc))}") from None
        if start == 0:
            raise ImportRejected(self.name, "the file holds no rows")

    def _csv_geometry(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Build point geometries from lon/lat columns, or any geometry from a WKT column."""
        lower = {c.lower().strip(): c for c in frame.columns}
        lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
        lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
        wkt_col = next((lower[n] for n in WKT_NAMES if n in lower), None)
        if lon_col and lat_col:
            for col in (lon_col, lat_col):
                numbers = pd.to_numeric(frame[col], errors="coerce")
                spelled_nan = frame[col].str.strip().str.lower().eq("nan").fillna(False)
                bad = numbers.isna() & frame[col].notna() & ~spelled_nan  # NaN/inf are caught as geometry
                if bad.any():
                    row = int(bad.idxmax())
                    raise ImportRejected(self.name, f"{frame.at[row, col]!r} is not a number", row=row, field=col)
            lon = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float)
            lat = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float)
            geoms = shapely.points(lon, lat)
            geoms[frame[lon_col].isna().to_numpy() & frame[lat_col].isna().to_numpy()] = None
            frame = frame.drop(columns=[lon_col, lat_col])
        elif wkt_col:
            text = frame[wkt_col]
            geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
            bad = np.asarray(pd.isna(geoms)) & text.notna().to_numpy()
            if bad.any():
                row = int(frame.index[np.argmax(bad)])
                raise ImportRejected(self.name, "unreadable WKT geometry", row=row, field=wkt_col)
            frame = frame.drop(columns=[wkt_col])
        else:
            frame = frame.copy()
            frame["geometry"] = None
            frame.attrs["no_geometry"] = True
            return frame
        frame = frame.copy()
        frame["geometry"] = geoms
        return frame


_ARROW_TYPES = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}
_POINT_WKB_BYTES = 21


def wkb_to_shapely(wkb: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Shapely geometries from a WKB column; 2D little-endian points are decoded straight from the buffer.

    A million GeoPackage points parse in ~0.2 s this way, against ~1.5 s through ``shapely.from_wkb``.
    """
    if isinstance(wkb, pa.ChunkedArray):
        wkb = wkb.combine_chunks()
    n = len(wkb)
    if n and wkb.null_count == 0 and pa.types.is_binary(wkb.type):
        offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int32)[wkb.offset : wkb.offset + n + 1]
        if (np.diff(offsets) == _POINT_WKB_BYTES).all():
            raw = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, -1)
            if (raw[:, 0] == 1).all() and (raw[:, 1:5] == (1, 0, 0, 0)).all():
                x = raw[:, 5:13].copy().view("<f8").ravel()
                y = raw[:, 13:21].copy().view("<f8").ravel()
                points: np.ndarray = shapely.points(x, y)
                return points
    values = wkb.to_numpy(zero_copy_only=False)
    geoms: np.ndarray = shapely.from_wkb(values, on_invalid="ignore")
    return geoms


def _short(text: str, limit: int = 160) -> str:
    """One line of a library's message, without any file system path in it, at most ``limit`` characters."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r"(?:[A-Za-z][\w ]*:)?/[^\s'\"]*", "<path>", line)
    return line[:limit]

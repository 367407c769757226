"""Read a layer file in chunks: GeoJSON, GeoPackage, zipped or plain Shapefile, KML, CSV.

Each chunk is a ``pandas.DataFrame`` whose ``geometry`` column holds shapely geometries (or is
absent for tables without geometry) and whose index is the 1-based row number in the file, so
every later error can name the row. Large files are streamed: only one chunk is in memory.
"""

from __future__ import annotations

import warnings
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

VECTOR_SUFFIXES = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".zip": "zipped Shapefile",
    ".kml": "KML",
}
CSV_SUFFIXES = {".csv", ".txt"}
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom")
#: Zip archives whose content would unpack beyond this are refused (zip bombs).
MAX_UNZIPPED_BYTES = 4 * 1024**3
MAX_ZIP_RATIO = 200


@dataclass
class FileReader:
    """A file opened for chunked reading; ``total`` is the number of rows when known up front."""

    path: Path
    chunk_rows: int = 100_000
    encoding: str | None = None

    def __post_init__(self) -> None:
        self.name = self.path.name
        if not self.path.exists():
            raise ImportRejected(self.name, "file not found")
        suffix = self.path.suffix.lower()
        if suffix in CSV_SUFFIXES:
            self.format = "CSV"
        elif suffix in VECTOR_SUFFIXES:
            self.format = VECTOR_SUFFIXES[suffix]
        else:
            known = ", ".join(sorted({*VECTOR_SUFFIXES, *CSV_SUFFIXES}))
            raise ImportRejected(self.name, f"unknown file type {suffix!r}; use one of {known}")
        if self.path.stat().st_size == 0:
            raise ImportRejected(self.name, "the file is empty")
        if suffix == ".zip":
            self._check_zip()
        self.total = self._count()
        if self.total == 0:
            raise ImportRejected(self.name, "the file holds no features")

    # -- inspection ------------------------------------------------------------------------------
    def _check_zip(self) -> None:
        try:
            with zipfile.ZipFile(self.path) as archive:
                infos = archive.infolist()
        except zipfile.BadZipFile as exc:
            raise ImportRejected(self.name, f"not a readable zip archive ({exc})") from exc
        unpacked = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
        if unpacked > MAX_UNZIPPED_BYTES or unpacked / packed > MAX_ZIP_RATIO:
            raise ImportRejected(
                self.name, f"refusing a zip that unpacks to {unpacked:,} bytes ({unpacked / packed:.0f}× its size)"
            )
        if not any(i.filename.lower().endswith(".shp") for i in infos):
            raise ImportRejected(self.name, "the zip archive holds no .shp file")

    def _count(self) -> int | None:
        if self.format == "CSV":
            return None  # counted while streaming
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info = pyogrio.read_info(self.path, force_feature_count=True, encoding=self.encoding)
        except Exception as exc:  # pyogrio raises several GDAL-derived types
            raise ImportRejected(self.name, f"cannot read the file as {self.format}: {_gdal_message(exc)}") from exc
        return int(info["features"])

    # -- chunks ------------------------------------------------------------------------------------
    def chunks(self) -> Iterator[pd.DataFrame]:
        if self.format == "CSV":
            yield from self._csv_chunks()
        else:
            yield from self._vector_chunks()

    def _vector_chunks(self) -> Iterator[pd.DataFrame]:
        """Stream Arrow record batches from GDAL: one pass over the file, columns stay columnar."""
        start = 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pyogrio.open_arrow(
                    self.path, batch_size=self.chunk_rows, encoding=self.encoding, use_pyarrow=True
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
                self.name, f"cannot read rows from {start + 1} on: {_gdal_message(exc)}", row=start + 1
            ) from exc

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
            raise ImportRejected(self.name, f"malformed CSV: {exc}") from exc
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
                return shapely.points(x, y)
    values = wkb.to_numpy(zero_copy_only=False)
    return shapely.from_wkb(values, on_invalid="ignore")


def _gdal_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]

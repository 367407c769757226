"""Validate and normalise one chunk of a layer file. Every rejection names the row, id and field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo_safety.area import ServiceArea
from geo_safety.bounds import MAX_ZONE_VERTICES
from geo_safety.crs import Datum, geometries_to_wgs84, to_wgs84
from geo_safety.errors import ImportRejected
from geo_safety.layers import FieldSpec, LayerSpec
from geo_safety.rules import LOCAL_TZ, check_patrols

_TRUE = {"true", "t", "1", "yes", "y", "是", "有"}
_FALSE = {"false", "f", "0", "no", "n", "否", "无"}
_IGNORED = {"district_code", "fid", "ogc_fid", "objectid", "description"}


@dataclass
class ChunkValidator:
    """Turns raw chunks of one file into frames of canonical columns, in WGS84, with district codes."""

    file_name: str
    layer: LayerSpec
    datum: Datum
    area: ServiceArea | None
    rename: dict[str, str] = field(default_factory=dict)
    repair: bool = False
    repair_hint: str = "pass --repair to make it valid"
    repaired: int = 0
    ignored_columns: set[str] = field(default_factory=set)
    #: text columns stay Arrow-backed (missing cells ``pd.NA``): for frames that only ``COPY`` reads, which then
    #: needs no Python string per cell (~1.5 s a million rows); callers that read cells get ``None``/``str``
    arrow_text: bool = False

    def reject(
        self, problem: str, row: int | None = None, frame: pd.DataFrame | None = None, column: str | None = None
    ) -> ImportRejected:
        key = None
        if row is not None and frame is not None and self.layer.key in frame.columns:
            value = frame.at[row, self.layer.key]
            key = None if pd.isna(value) else str(value)
        return ImportRejected(self.file_name, problem, row=row, feature_id=key, field=column)

    # -- columns -----------------------------------------------------------------------------------
    def canonical_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Apply ``--map`` renames, then match the canonical names case-insensitively."""
        frame = frame.rename(columns=self.rename)
        wanted = {f.name for f in self.layer.fields}
        mapping: dict[str, str] = {}
        for column in frame.columns:
            lowered = str(column).strip().lower()
            if column == "geometry":
                continue
            if lowered in wanted and lowered not in mapping.values():
                mapping[column] = lowered
            else:
                self.ignored_columns.add(str(column))
        frame = frame.rename(columns=mapping)
        return frame[[c for c in frame.columns if c in wanted or c == "geometry"]]

    def convert(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = self.canonical_columns(frame)
        out = pd.DataFrame(index=frame.index)
        for spec in self.layer.fields:
            out[spec.name] = self._field(frame, spec)
        if "closed_on" in out.columns:  # the day a closure began: meaningless for an open premise
            stray = out["closed_on"].notna() & (out["status"] != "closed")
            if stray.any():
                problem = "closed_on is given but status is not 'closed'"
                raise self.reject(problem, _row(frame, stray), frame, "closed_on")
        if self.layer.geometry:
            out["geometry"] = self._geometry(frame, out)
            if self.layer.assign_district:
                out["district_code"] = self._districts(out)
        return out

    # -- fields ------------------------------------------------------------------------------------
    def _field(self, frame: pd.DataFrame, spec: FieldSpec) -> pd.Series:
        if spec.name not in frame.columns:
            if spec.required:
                found = ", ".join(str(c) for c in frame.columns if c != "geometry") or "none"
                raise self.reject(
                    f"missing required field (columns found: {found}; rename with --map SRC={spec.name})",
                    column=spec.name,
                )
            return pd.Series([spec.default] * len(frame), index=frame.index, dtype=object)
        raw = frame[spec.name]
        cleaned = _clean_json(raw) if spec.kind == "json" else _clean_column(raw)
        missing = cleaned.isna()
        if spec.required and missing.any():
            row = int(missing.idxmax())
            raise self.reject("missing required field", row, frame, spec.name)
        values, bad = _VECTORISED.get(spec.kind, self._per_cell)(cleaned, spec)
        bad &= ~missing
        if bad.any():
            row = int(bad.idxmax())
            outcome = self._value(cleaned[row], spec)
            assert isinstance(outcome, _Bad)  # the cell the column's conversion found bad
            raise self.reject(outcome.reason, row, frame, spec.name)
        if spec.kind == "text" and self.arrow_text:
            values = values if spec.default is None else values.fillna(spec.default)
        else:
            values = values.astype(object).where(~missing, spec.default)
        if spec.choices:
            unknown = values.notna() & ~values.isin(spec.choices)
            if unknown.any():
                row = int(unknown.idxmax())
                raise self.reject(
                    f"unknown value {values[row]!r}; allowed: {', '.join(spec.choices)}", row, frame, spec.name
                )
        return values

    def _per_cell(self, cleaned: pd.Series, spec: FieldSpec) -> tuple[pd.Series, pd.Series]:
        """Dates, times and JSON: few rows (ledgers, hazard zones), converted one cell at a time."""
        converted = cleaned.map(lambda v: None if v is None or v is pd.NA else self._value(v, spec))
        return converted, converted.map(lambda v: isinstance(v, _Bad)).astype(bool)

    @staticmethod
    def _value(value: Any, spec: FieldSpec) -> str | int | float | bool | _Bad:
        """Convert one cell; returns ``_Bad`` with a reason instead of raising, to name the row after.

        ``value`` is whatever the reader put in the cell (``Any``: a wrong type is a ``TypeError``, caught).
        """
        try:
            if spec.kind == "text":
                if isinstance(value, float) and value.is_integer():
                    return str(int(value))
                return str(value)
            if spec.kind == "int":
                number = float(value)
                if not number.is_integer() or number < 0:
                    return _Bad(f"{value!r} is not a whole number ≥ 0")
                return int(number)
            if spec.kind == "float":
                number = float(value)
                if not np.isfinite(number):
                    return _Bad(f"{value!r} is not a finite number")
                return number
            if spec.kind == "bool":
                if isinstance(value, bool | np.bool_):
                    return bool(value)
                text = str(value).strip().lower()
                if text.endswith(".0"):
                    text = text[:-2]
                if text in _TRUE:
                    return True
                if text in _FALSE:
                    return False
                return _Bad(f"{value!r} is not true/false")
            if spec.kind == "date":
                day: date = pd.Timestamp(value).date()
                return day.isoformat()
            if spec.kind == "datetime":
                stamp = pd.Timestamp(value)
                if stamp.tzinfo is None:
                    stamp = stamp.tz_localize(LOCAL_TZ)  # a bare date or time is local (Asia/Shanghai)
                iso: str = stamp.isoformat()
                return iso
            if spec.kind == "json":
                parsed = json.loads(value) if isinstance(value, str) else value
                if isinstance(parsed, np.ndarray):  # GDAL may already have parsed a JSON list
                    parsed = parsed.tolist()
                if spec.name == "patrols":
                    try:
                        parsed = check_patrols(parsed)
                    except ValueError as exc:
                        return _Bad(str(exc))
                if not isinstance(parsed, list):
                    return _Bad("expected a JSON list")
                return json.dumps(parsed, ensure_ascii=False)
        except (ValueError, TypeError) as exc:
            return _Bad(f"{value!r} is not a valid {spec.kind} ({exc})")
        raise AssertionError(spec.kind)

    # -- geometry ----------------------------------------------------------------------------------
    def _geometry(self, frame: pd.DataFrame, out: pd.DataFrame) -> np.ndarray:
        column = "geometry" if "geometry" in frame.columns else None
        if column is None or frame.attrs.get("no_geometry"):
            raise self.reject("no geometry: give lon/lat columns or a WKT column", column="geometry")
        geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object)
        missing = pd.isna(geoms) | shapely.is_empty(geoms)
        if missing.any():
            raise self.reject("missing or empty geometry", _row(frame, missing), frame, "geometry")
        coords = shapely.get_coordinates(geoms)
        counts = shapely.get_num_coordinates(geoms)
        if self.layer.geometry != "Point" and (counts > MAX_ZONE_VERTICES).any():  # as the API refuses them
            raise self.reject(
                f"more than {MAX_ZONE_VERTICES:,} vertices; simplify the shape (e.g. to 1 m) or split it",
                _row(frame, counts > MAX_ZONE_VERTICES),
                frame,
                "geometry",
            )
        finite = np.isfinite(coords).all(axis=1)
        if not finite.all():
            owner = np.repeat(np.arange(len(geoms)), counts)
            bad = np.zeros(len(geoms), dtype=bool)
            bad[owner[~finite]] = True
            raise self.reject(
                "coordinates are not finite numbers (NaN or infinity)", _row(frame, bad), frame, "geometry"
            )
        out_of_range = (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
        if out_of_range.any():
            owner = np.repeat(np.arange(len(geoms)), counts)
            bad = np.zeros(len(geoms), dtype=bool)
            bad[owner[out_of_range]] = True
            raise self.reject(
                "coordinates outside lon −180…180 / lat −90…90 (lon and lat swapped?)",
                _row(frame, bad),
                frame,
                "geometry",
            )
        geoms = self._geometry_type(geoms, frame)
        geoms = self._validity(geoms, frame)
        return geometries_to_wgs84(geoms, self.datum)

    def _geometry_type(self, geoms: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        types = shapely.get_type_id(geoms)
        if self.layer.geometry == "Point":
            multi = np.flatnonzero(types == 4)
            if len(multi):  # a MultiPoint of one point is taken as that point
                single = multi[shapely.get_num_geometries(geoms[multi]) == 1]
                geoms = geoms.copy()
                geoms[single] = shapely.get_geometry(geoms[single], 0)
                types = shapely.get_type_id(geoms)
            wrong = types != 0
        else:  # MultiPolygon layers take Polygons too
            wrong = ~np.isin(types, (3, 6))
            polygons = types == 3
            if polygons.any():
                geoms = geoms.copy()
                geoms[polygons] = shapely.multipolygons(geoms[polygons][:, np.newaxis])
        if wrong.any():
            row = _row(frame, wrong)
            found = shapely.get_type_id(np.asarray([frame.at[row, "geometry"]], dtype=object))[0]
            raise self.reject(
                f"wrong geometry type {_TYPE_NAMES.get(int(found), found)}, expected {self.layer.geometry}",
                row,
                frame,
                "geometry",
            )
        return geoms

    def _validity(self, geoms: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        invalid = ~shapely.is_valid(geoms)
        if not invalid.any():
            return geoms
        if not self.repair:
            row = _row(frame, invalid)
            reason = shapely.is_valid_reason(geoms[np.argmax(invalid)])
            raise self.reject(f"invalid geometry: {reason} ({self.repair_hint})", row, frame, "geometry")
        fixed = shapely.make_valid(geoms[invalid])
        if self.layer.geometry == "MultiPolygon":
            fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
            empty = pd.isna(fixed) | shapely.is_empty(fixed)
            if empty.any():
                row = int(frame.index[np.flatnonzero(invalid)[np.argmax(empty)]])
                raise self.reject("invalid geometry that has no area once repaired", row, frame, "geometry")
        geoms = geoms.copy()
        geoms[invalid] = fixed
        self.repaired += int(invalid.sum())
        return geoms

    def _districts(self, out: pd.DataFrame) -> np.ndarray:
        assert self.area is not None
        if not len(self.area):
            raise self.reject(
                "the service area is empty: load the district boundaries first (`geo-safety boundaries load`)"
            )
        codes = self.area.assign(out["geometry"].to_numpy())
        outside = pd.isna(codes)
        if outside.any():
            row = _row(out, outside)
            raise self.reject(f"outside the service area{self._hint(out.at[row, 'geometry'])}", row, out, "geometry")
        return codes

    def _hint(self, geom: shapely.Geometry) -> str:
        """Say what probably went wrong: swapped lon/lat, or a datum that was not declared."""
        assert self.area is not None
        point = shapely.point_on_surface(geom)
        x, y = point.x, point.y
        if self.area.contains(y, x):
            return " (lon and lat look swapped)"
        for datum in (Datum.GCJ02, Datum.BD09):
            if datum is self.datum:
                continue
            # undo our conversion, then try the other datum
            lon, lat = _raw_position(point, self.datum)
            cx, cy = to_wgs84(lon, lat, datum)
            if self.area.contains(float(cx), float(cy)):
                return f" (it falls inside if read as {datum.value}: pass --datum {datum.value}?)"
        return f" (position {x:.5f}, {y:.5f} in WGS84; is the datum right?)"


def _clean_column(raw: pd.Series) -> pd.Series:
    """Strip text, turn blanks into missing values; numbers and booleans pass through."""
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
        return raw
    text = raw.astype("string").str.strip()
    return text.mask(text == "")


def _clean_json(raw: pd.Series) -> pd.Series:
    """JSON cells may arrive as text or already parsed (GDAL reads JSON arrays as lists)."""

    def clean(value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        return value

    return raw.astype(object).map(clean)


def _as_text(cleaned: pd.Series, spec: FieldSpec) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_float_dtype(cleaned):  # e.g. codes read as numbers: 450502.0 -> "450502"
        whole = cleaned.notna() & (cleaned % 1 == 0)
        text = cleaned.astype("string").mask(whole, cleaned[whole].astype("Int64").astype("string"))
    else:
        text = cleaned.astype("string")
    return text, pd.Series(False, index=cleaned.index)


def _as_number(cleaned: pd.Series, spec: FieldSpec) -> tuple[pd.Series, pd.Series]:
    numbers = pd.to_numeric(cleaned, errors="coerce").astype("Float64")
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
    if spec.kind == "int":
        bad |= (numbers % 1 != 0).fillna(False) | (numbers < 0).fillna(False)
        return numbers.round().astype("Int64"), bad.fillna(True).astype(bool)
    return numbers, bad.fillna(True).astype(bool)


_BOOL_WORDS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False), "1.0": True, "0.0": False}


def _as_bool(cleaned: pd.Series, spec: FieldSpec) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(cleaned):
        return cleaned.astype("boolean"), pd.Series(False, index=cleaned.index)
    flags = cleaned.astype("string").str.lower().map(_BOOL_WORDS)
    return flags.astype("boolean"), flags.isna()


_VECTORISED = {"text": _as_text, "int": _as_number, "float": _as_number, "bool": _as_bool}


class _Bad:
    def __init__(self, reason: str) -> None:
        self.reason = reason


_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def _row(frame: pd.DataFrame, mask: np.ndarray) -> int:
    return int(frame.index[int(np.argmax(np.asarray(mask, dtype=bool)))])


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """Keep the areal part of what ``make_valid`` returned, as a MultiPolygon."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = [p for g in parts for p in shapely.get_parts(g)]
    return shapely.MultiPolygon(polys) if polys else None


def _raw_position(point: shapely.Point, datum: Datum) -> tuple[float, float]:
    from geo_safety.crs import from_wgs84

    lon, lat = from_wgs84(point.x, point.y, datum)
    return float(lon), float(lat)

"""The service area: which district a feature belongs to, computed spatially (never trusted from a file)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

#: UTM zone 49N covers Beihai; used only to measure small margins around the boundary.
_METRIC = Transformer.from_crs(4326, 32649, always_xy=True)


class ServiceArea:
    """District polygons in WGS84 with fast, vectorised assignment of features to districts.

    A feature belongs to the district containing it (a polygon: its representative point; a
    coastal zone whose point lies in the sea: the district it overlaps most). Features within
    ``margin_m`` of the boundary (which is simplified along the coast) go to the nearest district.
    """

    def __init__(self, codes: Sequence[str], geoms: Sequence[shapely.Geometry], margin_m: float = 250.0) -> None:
        self.codes = np.asarray(codes, dtype=object)
        self.geoms = np.asarray(geoms, dtype=object)
        self.margin_m = margin_m
        for geom in self.geoms:
            shapely.prepare(geom)
        self.bounds = shapely.bounds(self.geoms) if len(self.geoms) else np.empty((0, 4))
        self.union = shapely.union_all(self.geoms) if len(self.geoms) else None
        self._metric = (
            shapely.transform(self.geoms, lambda xy: np.column_stack(_METRIC.transform(xy[:, 0], xy[:, 1])))
            if len(self.geoms)
            else self.geoms
        )

    def __len__(self) -> int:
        return len(self.codes)

    def assign(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        """District code per geometry, ``None`` where it lies outside the service area."""
        geoms = np.asarray(geoms, dtype=object)
        result = np.full(len(geoms), None, dtype=object)
        if not len(self.codes) or not len(geoms):
            return result
        points = geoms.copy()
        areal = np.flatnonzero(shapely.get_type_id(geoms) != 0)
        points[areal] = shapely.point_on_surface(geoms[areal])
        x, y = shapely.get_x(points), shapely.get_y(points)
        todo = np.ones(len(geoms), dtype=bool)
        for code, district, (x0, y0, x1, y1) in zip(self.codes, self.geoms, self.bounds, strict=True):
            # only points inside the district's bounding box are tested against its (prepared) polygon
            candidates = np.flatnonzero(todo & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            inside = candidates[shapely.contains_xy(district, x[candidates], y[candidates])]
            result[inside] = code
            todo[inside] = False
        for i in np.flatnonzero(result == None):  # noqa: E711 - few: coastal zones and near-boundary points
            result[i] = self._nearby(geoms[i])
        return result

    def _nearby(self, geom: shapely.Geometry) -> str | None:
        overlaps = [
            shapely.area(shapely.intersection(geom, d)) if shapely.intersects(geom, d) else 0.0 for d in self.geoms
        ]
        if max(overlaps) > 0:
            return str(self.codes[int(np.argmax(overlaps))])
        with np.errstate(invalid="ignore"):  # far outside UTM 49N the projection gives inf: simply "far"
            metric = shapely.transform(geom, lambda xy: np.column_stack(_METRIC.transform(xy[:, 0], xy[:, 1])))
            distances = np.nan_to_num(shapely.distance(metric, self._metric), nan=np.inf)
        best = int(np.argmin(distances))
        return str(self.codes[best]) if distances[best] <= self.margin_m else None

    def contains(self, lon: float, lat: float) -> bool:
        """Whether a single position lies in (or within the margin of) the service area."""
        return self.assign(np.array([shapely.Point(lon, lat)], dtype=object))[0] is not None

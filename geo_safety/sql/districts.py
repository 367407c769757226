"""District reads that are not layer features: codes, the extent, the bundled basemap's simplified shapes."""

from __future__ import annotations

from sqlalchemy import text

#: Every district code, in order. No binds.
CODES = text("SELECT code FROM districts ORDER BY code")

#: The bounding box of all districts: ``xmin, ymin, xmax, ymax`` (NULLs when there are none). No binds.
EXTENT = text(
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM districts) x"
)

#: A digest of every district's code, name and geometry: changes exactly when the basemap must. No binds.
BASEMAP_VERSION = text(
    "SELECT md5(coalesce(string_agg(code || ':' || name || ':' || md5(ST_AsBinary(geom)), ',' ORDER BY code), ''))"
    " FROM districts"
)

#: Each district simplified for the basemap: its land and outline as GeoJSON, and its bounds. Binds:
#: ``tolerance`` (simplification, degrees), ``grid`` (snapping, degrees).
BASEMAP_SHAPES = text(
    """
    SELECT code, name, ST_AsGeoJSON(shape, 5) AS land, ST_AsGeoJSON(ST_Boundary(shape), 5) AS line,
           ST_XMin(shape) AS xmin, ST_YMin(shape) AS ymin, ST_XMax(shape) AS xmax, ST_YMax(shape) AS ymax
    FROM (SELECT code, name, ST_SnapToGrid(ST_SimplifyPreserveTopology(geom, :tolerance), :grid) AS shape
          FROM districts) AS simplified
    WHERE NOT ST_IsEmpty(shape)
    ORDER BY code
    """
)

#: The students of each district's schools (``district_code, students``; NULL when none are counted). No binds.
STUDENTS = text("SELECT district_code, sum(students) AS students FROM schools GROUP BY 1")

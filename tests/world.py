"""A small hand-checked fixture world and writers for every supported file format."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

# Positions checked by hand against the DataV boundaries (converted to WGS84): town seats.
KNOWN = {
    "P-HC": (109.118, 21.482, "450502"),  # 中街街道, 海城区
    "P-YH": (109.140, 21.430, "450503"),  # 银滩镇, 银海区
    "P-TS": (109.520, 21.620, "450512"),  # 南康镇, 铁山港区
    "P-HP": (109.200, 21.660, "450521"),  # 廉州镇, 合浦县
    "P-WZ": (109.115, 21.045, "450502"),  # 涠洲镇 on the island, 海城区
}


def premises_frame() -> gpd.GeoDataFrame:
    ids = list(KNOWN)
    return gpd.GeoDataFrame(
        {
            "id": ids,
            "name": ["网吧甲", "烟酒店乙", "彩票站丙", "宾馆丁", "小吃店戊"],
            "category": ["internet_cafe", "tobacco", "lottery", "hotel", "food_vendor"],
            "address": ["中街1号", None, "南康路3号", "廉州大道4号", "涠洲5号"],
            "status": ["open", "open", "closed", "open", "open"],
        },
        geometry=[shapely.Point(KNOWN[i][0], KNOWN[i][1]) for i in ids],
        crs=4326,
    )


def square(lon: float, lat: float, half_deg: float = 0.001) -> shapely.Polygon:
    return shapely.box(lon - half_deg, lat - half_deg, lon + half_deg, lat + half_deg)


def hazards_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["WH-A", "WH-B"],
            "name": ["甲池塘", "乙水库"],
            "kind": ["pond", "reservoir"],
            "responsible_person": ["张三", None],
            "lifebuoy": [True, False],
            "fence": [True, False],
        },
        geometry=[square(109.20, 21.66), shapely.MultiPolygon([square(109.52, 21.62, 0.003)])],
        crs=4326,
    )


def write(frame: gpd.GeoDataFrame | pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` in the format named by the suffix (.zip = zipped Shapefile; .csv = lon/lat columns)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = pd.DataFrame(frame.drop(columns="geometry"))
        if frame.geometry.geom_type.eq("Point").all():
            table.insert(0, "lat", frame.geometry.y)
            table.insert(0, "lon", frame.geometry.x)
        else:
            table["wkt"] = shapely.to_wkt(np.asarray(frame.geometry.values, dtype=object))
        table.to_csv(path, index=False)
    elif suffix == ".zip":
        folder = path.with_suffix("")
        folder.mkdir(exist_ok=True)
        pyogrio.write_dataframe(frame, folder / "layer.shp", encoding="UTF-8")
        with zipfile.ZipFile(path, "w") as archive:
            for part in folder.iterdir():
                archive.write(part, part.name)
    elif suffix == ".kml":
        pyogrio.write_dataframe(frame, path, driver="LIBKML")
    elif suffix == ".gpkg":
        pyogrio.write_dataframe(frame, path, driver="GPKG")
    else:
        pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    return path

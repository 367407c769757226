"""The bundled Beihai data: real district boundaries and the synthetic sample."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from geo_safety.services.imports import ImportResult, load_file
from geo_safety.services.sample import BOUNDARY_DATUM, BOUNDARY_FILE
from geo_safety.sql import maintenance as sql_maintenance

#: The sample's files in load order (campuses need schools; inspections need their targets).
SAMPLE_FILES = (
    ("schools", "sample/schools.geojson", "upsert"),
    ("school_campuses", "sample/school_campuses.geojson", "upsert"),
    ("premises", "sample/premises.csv", "upsert"),
    ("water_hazards", "sample/water_hazards.geojson", "upsert"),
    ("inspections", "sample/inspections.csv", "append"),
)


def load_boundaries(engine: Engine, data_dir: Path) -> ImportResult:
    """Load the real DataV boundaries, which are GCJ-02, through the ordinary GCJ-02 import path."""
    return load_file(
        engine, "districts", data_dir / BOUNDARY_FILE, datum=BOUNDARY_DATUM, mode="upsert", rename={"adcode": "code"}
    )


def load_sample(
    engine: Engine, data_dir: Path, *, only_if_empty: bool = False, progress: bool = False
) -> list[ImportResult]:
    """Boundaries plus the whole synthetic sample (generated in WGS84)."""
    if only_if_empty:
        with engine.connect() as conn:
            if conn.execute(sql_maintenance.ANY_SCHOOL).scalar_one():
                return []
    results = [load_boundaries(engine, data_dir)]
    for layer, name, mode in SAMPLE_FILES:
        results.append(load_file(engine, layer, data_dir / name, datum="wgs84", mode=mode, progress=progress))
    return results

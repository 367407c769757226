"""Import of 1,000,000 premises from GeoPackage: the service's loader against ogr2ogr and psql ``\\copy``.

All three write into a freshly migrated database with the same ``premises`` table (constraints and
indexes as the migrations make them), one after the other in one run:

- ``geo-safety load premises`` (a subprocess, as a user runs it): Arrow reading, validation, datum
  conversion, spatial district assignment, one transaction; once into a database holding only the
  districts (the shape the other tools get) and once with the 20,000 schools already loaded, when it
  also links every premise to its nearest kindergarten and nearest other school;
- ``ogr2ogr -f PostgreSQL`` with ``PG_USE_COPY=YES``, appending to the same table (the district code
  is a constant from its SQL: ogr2ogr cannot assign districts spatially or check anything);
- ``psql \\copy`` of a CSV already holding every column (hex EWKB geometry) into a copy of the table
  without indexes: the floor, no parsing of the source file and no index to build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyogrio

from bench.world import DATA_DIR, Server, data_for, load_districts
from geo_safety.ruleset import load_rules
from geo_safety.services import duestate
from geo_safety.services.copy_csv import ewkb_hex
from geo_safety.services.imports import load_file
from geo_safety.services.readers import wkb_to_shapely

DATABASE = "geo_safety_bench_import"
COLUMNS = ("id", "name", "category", "address", "license_no", "status", "district_code", "geom")


@dataclass
class Load:
    tool: str
    rows: int
    seconds: float
    peak_mb: float | None
    note: str

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd``; wall seconds and the child's peak RSS in MB.

    The peak is the child's own ``VmHWM`` read from /proc while it runs (``wait4``'s ``ru_maxrss`` would
    report this big parent's size, which a forked child inherits on Linux).
    """
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    status = Path(f"/proc/{proc.pid}/status")
    peak_kb = 0
    while proc.poll() is None:
        with suppress(OSError, StopIteration, ValueError):
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            peak_kb = max(peak_kb, int(line.split()[1]))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {err.decode(errors='replace')[-2000:]}")
    return seconds, peak_kb / 1024


def _count(server: Server) -> int:
    import psycopg

    with psycopg.connect(server.libpq_url(DATABASE)) as conn:
        return conn.execute("SELECT count(*) FROM premises").fetchone()[0]


def floor_csv(gpkg: Path) -> Path:
    """The premises as a CSV of the table's columns (district code constant), written once and cached."""
    target = DATA_DIR / "province" / "premises_copy.csv"
    if target.exists() and target.stat().st_mtime >= gpkg.stat().st_mtime:
        return target
    meta, table = pyogrio.read_arrow(gpkg)
    geometry = meta["geometry_name"] or "geom"
    geoms = ewkb_hex(wkb_to_shapely(table.column(geometry)))
    out = table.select(list(COLUMNS[:6]))
    out = out.append_column("district_code", pa.array(["450502"] * table.num_rows))
    out = out.append_column("geom", pa.array(geoms, type=pa.string()))
    pa_csv.write_csv(out, target, pa_csv.WriteOptions(include_header=False))
    return target


def run(server: Server) -> list[Load]:
    folder = data_for("province")
    gpkg = folder / "premises.gpkg"
    csv = floor_csv(gpkg)
    results = []

    # 1. the service's own loader, as a user runs it
    _, engine = server.fresh(DATABASE)
    load_districts(engine, "province")
    engine.dispose()
    seconds, peak = _run(
        [sys.executable, "-m", "geo_safety.cli", "load", "premises", str(gpkg), "--datum", "wgs84"],
        {"GEO_SAFETY_DATABASE_URL": server.url(DATABASE)},
    )
    results.append(Load("geo-safety load", _count(server), seconds, peak, "validation, datum, districts, indexes"))

    # 1b. the same into a database that already holds the schools: + each premise's nearest-school links
    _, engine = server.fresh(DATABASE)
    load_districts(engine, "province")
    for layer, name in (("schools", "schools.geojson"), ("school_campuses", "school_campuses.geojson")):
        load_file(engine, layer, folder / name, datum="wgs84", mode="upsert")
    duestate.ensure(engine, load_rules())  # as a running service keeps it: the load also writes each due state
    engine.dispose()
    seconds, peak = _run(
        [sys.executable, "-m", "geo_safety.cli", "load", "premises", str(gpkg), "--datum", "wgs84"],
        {"GEO_SAFETY_DATABASE_URL": server.url(DATABASE)},
    )
    results.append(
        Load(
            "geo-safety load, schools present",
            _count(server),
            seconds,
            peak,
            "the same + nearest-school links + due state",
        )
    )

    # 2. ogr2ogr appending to the same (empty) table, its indexes in place
    server.fresh(DATABASE)[1].dispose()
    ogr = shutil.which("ogr2ogr")
    if ogr:
        # every column set: GDAL falls back from COPY to one INSERT per row when a column with a default is unset
        select = (
            "SELECT id, name, category, address, license_no, status, '450502' AS district_code,"
            " datetime('now') AS updated_at, geom FROM premises"
        )
        seconds, peak = _run(
            [
                ogr,
                "--config",
                "PG_USE_COPY",
                "YES",
                "-f",
                "PostgreSQL",
                f"PG:{server.libpq_url(DATABASE)}",
                str(gpkg),
                *("-append", "-nln", "premises", "-dialect", "SQLite", "-sql", select, "-gt", "100000"),
            ],
            {"PG_USE_COPY": "YES"},
        )
        results.append(Load("ogr2ogr (PG_USE_COPY)", _count(server), seconds, peak, "no validation, same table"))

    # 3. the floor: psql \copy of ready-made rows into the table without its indexes
    _, engine = server.fresh(DATABASE)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP INDEX ix_premises_geom, ix_premises_district_code;"
            " ALTER TABLE premises DROP CONSTRAINT pk_premises CASCADE"  # with the inspections' foreign key
        )
    engine.dispose()
    copy = f"\\copy premises ({', '.join(COLUMNS)}) FROM '{csv}' (FORMAT csv)"
    seconds, peak = _run(["psql", server.libpq_url(DATABASE), "-v", "ON_ERROR_STOP=1", "-c", copy])
    results.append(Load("psql \\copy (floor)", _count(server), seconds, None, "CSV of final rows, no indexes"))
    server.drop(DATABASE)
    return results

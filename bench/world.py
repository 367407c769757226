"""Benchmark worlds: generated data at city and province scale, each in a database of its own.

The data comes from the project's own generator (``geo-safety sample generate``) and is cached in
``bench/data/`` (ignored by git); the databases live in the project's local cluster (or the server of
``GEO_SAFETY_DATABASE_URL``) under names starting ``geo_safety_bench_``, never the user's database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import Engine

from geo_safety import migrate
from geo_safety.db import make_engine
from geo_safety.localdb import LocalCluster, drop_database, ensure_database
from geo_safety.services.bundled import load_boundaries
from geo_safety.services.imports import load_file
from geo_safety.services.sample import SCALES, generate
from geo_safety.settings import PROJECT_DIR, Settings

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
LAYER_FILES = (
    ("schools", "schools.geojson"),
    ("school_campuses", "school_campuses.geojson"),
    ("premises", "premises.gpkg"),
    ("water_hazards", "water_hazards.geojson"),
    ("inspections", "inspections.csv"),
)


@dataclass
class Server:
    """Where benchmark databases are created: an admin libpq URL for the project's cluster."""

    settings: Settings
    admin_url: str

    @classmethod
    def local(cls) -> Server:
        settings = Settings()
        if settings.database_url:
            params = psycopg.conninfo.conninfo_to_dict(settings.database_url.replace("+psycopg", ""))
            admin = psycopg.conninfo.make_conninfo(**{**params, "dbname": "postgres"})
            return cls(settings, admin)
        cluster = LocalCluster(settings)
        cluster.start()
        return cls(settings, cluster.libpq_url("postgres"))

    def url(self, name: str) -> str:
        params = psycopg.conninfo.conninfo_to_dict(self.admin_url)
        return (
            f"postgresql+psycopg://{params['user']}:{params.get('password', '')}@{params.get('host', '127.0.0.1')}"
            f":{params.get('port', 5432)}/{name}"
        )

    def libpq_url(self, name: str) -> str:
        return psycopg.conninfo.make_conninfo(self.admin_url, dbname=name)

    def fresh(self, name: str) -> tuple[Settings, Engine]:
        """An empty, migrated database ``name`` (dropped first if it exists)."""
        drop_database(self.admin_url, name)
        ensure_database(self.admin_url, name)
        settings = self.settings.model_copy(update={"database_url": self.url(name), "data_dir": PROJECT_DIR / "data"})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        return settings, engine

    def drop(self, name: str) -> None:
        drop_database(self.admin_url, name)


def data_for(scale: str) -> Path:
    """The generated files of ``scale``, generated on first use (deterministic: same seed, same files)."""
    folder = DATA_DIR / scale
    if not (folder / "inspections.csv").exists():
        generate(folder, PROJECT_DIR / "data", scale=scale, premises_format="gpkg")
    return folder


def load_districts(engine: Engine, scale: str) -> None:
    """The real Beihai boundaries, or the province's synthetic copies of them."""
    districts = data_for(scale) / "districts.geojson"
    if SCALES[scale].copies > 1:
        load_file(engine, "districts", districts, datum="wgs84", mode="upsert")
    else:
        load_boundaries(engine, PROJECT_DIR / "data")


@dataclass
class World:
    scale: str
    database: str
    settings: Settings
    engine: Engine
    load_seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def build(server: Server, scale: str) -> World:
    """A database holding the whole generated world of ``scale``, loaded through the service's importer."""
    folder = data_for(scale)
    name = f"geo_safety_bench_{scale}"
    settings, engine = server.fresh(name)
    world = World(scale, name, settings, engine)
    load_districts(engine, scale)
    for layer, file_name in LAYER_FILES:
        started = time.perf_counter()
        mode = "upsert" if layer == "school_campuses" else "append"
        result = load_file(engine, layer, folder / file_name, datum="wgs84", mode=mode)
        world.load_seconds[layer] = time.perf_counter() - started
        world.rows[layer] = result.rows_read
    return world

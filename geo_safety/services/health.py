"""Is the system of record reachable and complete?"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from geo_safety import migrate
from geo_safety.errors import DatabaseUnavailable


def check(engine: Engine, *, detailed: bool = True) -> dict[str, object]:
    """The database answers: ``{"status": "ok"}``; ``detailed`` adds PostGIS and schema status and how many
    features each layer holds (for signed-in callers only: versions help an attacker, sizes are data)."""
    try:
        with engine.connect() as conn:
            if not detailed:
                conn.execute(text("SELECT 1")).scalar_one()
                return {"status": "ok"}
            postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("districts", "schools", "premises", "water_hazards", "inspections")
            }
        revision = migrate.current(engine)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable("the database is not reachable or not migrated") from exc
    return {"status": "ok", "postgis": postgis, "schema_revision": revision, "layers": counts}

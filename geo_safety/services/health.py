"""Is the system of record reachable and complete?"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from geo_safety import migrate
from geo_safety.errors import DatabaseUnavailable, GeoSafetyError
from geo_safety.keyperiods import KeyCalendar, load_calendar
from geo_safety.sql import maintenance as sql_maintenance


def check(
    engine: Engine, *, detailed: bool = True, calendar: KeyCalendar | None = None, today: date | None = None
) -> dict[str, object]:
    """The database answers: ``{"status": "ok"}``; ``detailed`` adds PostGIS and schema status, how many
    features each layer holds (for signed-in callers only: versions help an attacker, sizes are data) and the
    key-period calendar's state (which coming dates lack official holidays or vacation dates)."""
    try:
        with engine.connect() as conn:
            if not detailed:
                conn.execute(sql_maintenance.PING).scalar_one()
                return {"status": "ok"}
            postgis = conn.execute(sql_maintenance.POSTGIS_VERSION).scalar_one()
            counts = {
                table: conn.execute(sql_maintenance.row_count(table)).scalar_one()
                for table in ("districts", "schools", "premises", "water_hazards", "inspections")
            }
        revision = migrate.current(engine)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable("the database is not reachable or not migrated") from exc
    return {
        "status": "ok",
        "postgis": postgis,
        "schema_revision": revision,
        "layers": counts,
        "calendar": calendar_status(calendar, today),
    }


def calendar_status(calendar: KeyCalendar | None = None, today: date | None = None) -> dict[str, object]:
    """The calendar part: ``status`` ok/warning with the warnings (a missing year warns 60 days ahead)."""
    from geo_safety.rules import today_local

    try:
        calendar = calendar or _configured_calendar()
    except GeoSafetyError as exc:
        return {"status": "error", "message": str(exc)}
    return calendar.status(today or today_local())


@lru_cache(maxsize=1)
def _configured_calendar() -> KeyCalendar:
    """The calendar ``GEO_SAFETY_CALENDAR`` names (the app passes its own; this serves callers that do not)."""
    from geo_safety.settings import get_settings

    return load_calendar(get_settings().calendar)

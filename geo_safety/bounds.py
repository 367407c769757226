"""Shared bounds on what callers send: dates, paging offsets, zone sizes — checked once, in one place.

Every date a caller may send (query parameters, inspection times, follow-up dates) lies in
``FIRST_DAY``–``LAST_DAY``: outside it a date is a typo (``0001-01-01``) and only breaks date arithmetic
(``day - 29 days``) deep inside a query. Offsets stay far below PostgreSQL's bigint; zone geometries
are counted before anything parses them. ``geo_safety.api.params`` turns these into request types.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geo_safety.errors import InvalidInput, TooLarge

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
#: No listing here has this many rows; larger offsets are typos or probes (PostgreSQL's bigint ends at 2⁶³−1).
MAX_OFFSET = 10_000_000
#: A water zone drawn or surveyed by hand has hundreds of vertices, a detailed river a few thousand.
MAX_ZONE_VERTICES = 20_000
RANGE_TEXT = f"{FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"


def day_in_range(value: date | datetime) -> bool:
    day = value.date() if isinstance(value, datetime) else value
    return FIRST_DAY <= day <= LAST_DAY


def check_day(value: date | datetime | None, name: str = "date") -> None:
    """Raise ``InvalidInput`` naming ``value`` when it lies outside the service's date range (``None`` passes)."""
    if value is not None and not day_in_range(value):
        raise InvalidInput(f"{name} {value.isoformat()} is outside {RANGE_TEXT}")


def check_offset(offset: int) -> None:
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be 0..{MAX_OFFSET:,}")


def count_vertices(geometry: Any, limit: int = MAX_ZONE_VERTICES) -> int:
    """Positions in a GeoJSON geometry's ``coordinates``, counted without parsing it (stops past ``limit``)."""
    count = 0
    stack = [geometry.get("coordinates") if isinstance(geometry, dict) else None]
    while stack and count <= limit:
        item = stack.pop()
        if not isinstance(item, list | tuple):
            continue
        if item and all(isinstance(v, int | float) for v in item):
            count += 1
        else:
            stack.extend(item)
    return count


def check_zone_vertices(geometry: Any) -> None:
    """Refuse a zone geometry of more than ``MAX_ZONE_VERTICES`` positions, before shapely or pyarrow see it."""
    if count_vertices(geometry) > MAX_ZONE_VERTICES:
        raise TooLarge(
            f"geometry: more than {MAX_ZONE_VERTICES:,} vertices; simplify the zone (e.g. to 1 m) or split it"
        )

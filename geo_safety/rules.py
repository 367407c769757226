"""The programme's closed vocabularies. Pure Python: the database checks and the importers use them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class SchoolKind(StrEnum):
    KINDERGARTEN = "kindergarten"
    PRIMARY = "primary"
    JUNIOR = "junior"
    SENIOR = "senior"
    NINE_YEAR = "nine_year"
    TWELVE_YEAR = "twelve_year"
    VOCATIONAL = "vocational"
    SPECIAL = "special"


class PremisesCategory(StrEnum):
    INTERNET_CAFE = "internet_cafe"
    ENTERTAINMENT = "entertainment"
    GAME_ARCADE = "game_arcade"
    TOBACCO = "tobacco"
    ALCOHOL = "alcohol"
    LOTTERY = "lottery"
    FOOD_VENDOR = "food_vendor"
    CONVENIENCE_STORE = "convenience_store"
    HOTEL = "hotel"
    OTHER = "other"


class PremisesStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class HazardKind(StrEnum):
    RESERVOIR = "reservoir"
    POND = "pond"
    RIVER = "river"
    CANAL = "canal"
    COAST = "coast"
    BEACH = "beach"
    PIT = "pit"
    OTHER = "other"


class InspectionResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    CLOSED = "closed"
    NOT_FOUND = "not_found"


#: The guard measures a water hazard zone can have (boolean columns of ``water_hazards``).
GUARD_MEASURES: tuple[str, ...] = ("warning_sign", "lifebuoy", "rescue_rope", "rescue_pole", "fence")

#: The four security-compliance items of a school (boolean columns of ``schools``).
SECURITY_ITEMS: tuple[str, ...] = ("full_time_guards", "closed_campus", "alarm_linked", "video_linked")


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The allowed strings of a vocabulary, in declaration order.

    >>> values(InspectionResult)
    ('pass', 'fail', 'closed', 'not_found')
    """
    return tuple(member.value for member in enum)


class Role(StrEnum):
    """Who may do what: see ``PERMISSIONS``."""

    INSPECTOR = "inspector"  # reads maps and due lists of their districts, records inspections there
    PLANNER = "planner"  # edits water hazard zones, rules and calendars (their districts or the city)
    VIEWER = "viewer"  # reads maps and reports
    ADMIN = "admin"  # manages users; everything else too


#: action -> roles allowed to do it. District scope is checked separately.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "read": frozenset(Role),
    "inspect": frozenset({Role.INSPECTOR, Role.ADMIN}),
    "edit_hazards": frozenset({Role.PLANNER, Role.ADMIN}),
    "import": frozenset({Role.ADMIN}),
    "import_hazards": frozenset({Role.PLANNER, Role.ADMIN}),
    "manage_users": frozenset({Role.ADMIN}),
    "read_audit": frozenset({Role.ADMIN}),
}


def allowed(role: Role | str, action: str) -> bool:
    """Whether ``role`` may perform ``action``.

    >>> allowed("inspector", "inspect"), allowed("viewer", "edit_hazards"), allowed("admin", "manage_users")
    (True, False, True)
    """
    return Role(role) in PERMISSIONS[action]


def today_local() -> date:
    """'Today' for the programme is the date in Asia/Shanghai, wherever the server runs."""
    return datetime.now(LOCAL_TZ).date()


def check_patrols(patrols: object) -> list[dict[str, object]]:
    """Validate patrol assignments; returns them normalised or raises ``ValueError`` with the reason.

    >>> check_patrols([{"valid_from": "2026-01-01", "valid_to": "2026-12-31", "weekdays": [6, 7],
    ...                 "holidays": True, "patroller": "李四"}])[0]["weekdays"]
    [6, 7]
    >>> check_patrols([{"valid_from": "2026-12-31", "valid_to": "2026-01-01", "weekdays": [1]}])
    Traceback (most recent call last):
    ...
    ValueError: patrol 1: valid_to 2026-01-01 is before valid_from 2026-12-31
    """
    if not isinstance(patrols, list):
        raise ValueError("patrols must be a list")
    clean = []
    for n, patrol in enumerate(patrols, start=1):
        if not isinstance(patrol, dict):
            raise ValueError(f"patrol {n}: expected an object")
        try:
            start = date.fromisoformat(str(patrol["valid_from"]))
            end = date.fromisoformat(str(patrol["valid_to"]))
        except (KeyError, ValueError):
            raise ValueError(f"patrol {n}: valid_from and valid_to must be YYYY-MM-DD dates") from None
        if end < start:
            raise ValueError(f"patrol {n}: valid_to {end} is before valid_from {start}")
        weekdays = patrol.get("weekdays", [])
        if not isinstance(weekdays, list) or not all(isinstance(w, int) and 1 <= w <= 7 for w in weekdays):
            raise ValueError(f"patrol {n}: weekdays must be ISO weekday numbers 1 (Monday) to 7 (Sunday)")
        holidays = patrol.get("holidays", False)
        if not isinstance(holidays, bool):
            raise ValueError(f"patrol {n}: holidays must be true or false")
        patroller = patrol.get("patroller")
        clean.append(
            {
                "valid_from": start.isoformat(),
                "valid_to": end.isoformat(),
                "weekdays": sorted(set(weekdays)),
                "holidays": holidays,
                "patroller": None if patroller is None else str(patroller),
            }
        )
    return clean

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

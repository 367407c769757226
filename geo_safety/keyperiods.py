"""Key periods of drowning prevention: weekends, statutory holidays, summer and winter vacations.

"Key areas have someone in charge, key periods have someone watching": on a key-period day an
unguarded water zone needs a patrol. The dates come from a TOML calendar a bureau can extend
(``GEO_SAFETY_CALENDAR``); the packaged one holds 2025 and 2026.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from geo_safety.errors import InvalidInput

DEFAULT_CALENDAR_FILE = Path(__file__).with_name("calendar_default.toml")


@dataclass(frozen=True)
class KeyCalendar:
    holidays: frozenset[date]
    workdays: frozenset[date]
    winter: tuple[tuple[date, date], ...]
    summer: tuple[tuple[int, int], tuple[int, int]]
    years: frozenset[int]

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays

    def key_period(self, day: date) -> str | None:
        """Which key period ``day`` falls in (the most specific), or ``None`` for an ordinary school day.

        >>> cal = load_calendar()
        >>> [cal.key_period(date.fromisoformat(d)) for d in ("2026-10-02", "2026-07-20", "2026-11-28", "2026-11-26")]
        ['holiday', 'summer_vacation', 'weekend', None]
        >>> cal.key_period(date(2025, 9, 28))  # a Sunday made a school day (调休): not a weekend key period
        """
        if day in self.holidays:
            return "holiday"
        (m1, d1), (m2, d2) = self.summer
        if date(day.year, m1, d1) <= day <= date(day.year, m2, d2):
            return "summer_vacation"
        if any(start <= day <= end for start, end in self.winter):
            return "winter_vacation"
        if day.isoweekday() >= 6 and day not in self.workdays:
            return "weekend"
        return None


def _date(value: object, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{where}: {value!r} is not a YYYY-MM-DD date") from None


def load_calendar(path: Path | None = None) -> KeyCalendar:
    path = path or DEFAULT_CALENDAR_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path.name}: cannot read the calendar ({exc})") from exc
    holidays, workdays, winter = set(), set(), []
    for year, spec in data.get("years", {}).items():
        holidays |= {_date(d, f"{path.name} [years.{year}] holidays") for d in spec.get("holidays", [])}
        workdays |= {_date(d, f"{path.name} [years.{year}] workdays") for d in spec.get("workdays", [])}
        if "winter_vacation" in spec:
            span = spec["winter_vacation"]
            start, end = (_date(span[k], f"{path.name} [years.{year}] winter_vacation") for k in ("from", "to"))
            if end < start:
                raise InvalidInput(f"{path.name}: [years.{year}] winter_vacation ends before it starts")
            winter.append((start, end))
    summer = data.get("summer_vacation", {"from": "07-10", "to": "08-31"})
    try:
        bounds = tuple(tuple(int(x) for x in summer[k].split("-")) for k in ("from", "to"))
    except (KeyError, ValueError):
        raise InvalidInput(f'{path.name}: summer_vacation takes {{ from = "MM-DD", to = "MM-DD" }}') from None
    return KeyCalendar(
        frozenset(holidays),
        frozenset(workdays),
        tuple(winter),
        bounds,  # type: ignore[arg-type]
        frozenset(int(y) for y in data.get("years", {})),
    )

"""Key periods of drowning prevention: weekends, statutory holidays, summer and winter vacations.

"Key areas have someone in charge, key periods have someone watching": on a key-period day an
unguarded water zone needs a patrol. The official holidays and make-up working days (调休) come from the
``chinesecalendar`` package (the State Council's notices, updated with the package); the bureau's TOML file
(``GEO_SAFETY_CALENDAR``, else the packaged ``calendar_default.toml``) adds the school vacations and may give a
year's notice before the package has it (it then replaces the package's days of that year).

A year that no notice covers is never answered as "no key period" by omission: its statutory holidays are
computed (``holidays`` package, lunar dates included) and widened by the customary blocks (Spring Festival
eve + 7 days, 1–5 May, 1–7 October), and every answer of that year is marked provisional with the reason.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from geo_safety.errors import InvalidInput

DEFAULT_CALENDAR_FILE = Path(__file__).with_name("calendar_default.toml")
#: a check warns about a year's missing dates from this many days before it starts
WARN_DAYS_AHEAD = 60
#: the winter vacation of a year falls within these month-days (answers there depend on its dates)
WINTER_WINDOW = ((1, 1), (3, 15))


@dataclass(frozen=True)
class KeyDay:
    """The answer for one day: the key period (``None``: an ordinary school day) and whether it is provisional."""

    period: str | None
    provisional: bool = False
    #: why the answer is provisional (Chinese + English), empty when it rests on official and bureau dates
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class CalendarWarning:
    """A coming stretch of dates whose key periods rest on computed or missing dates."""

    year: int
    kind: str  # "official_holidays" | "winter_vacation"
    since: date  # the first coming date it concerns
    message: str


@dataclass(frozen=True)
class KeyCalendar:
    #: official holidays and make-up working days (package and bureau notices) of ``official_years``
    holidays: frozenset[date]
    workdays: frozenset[date]
    winter: tuple[tuple[date, date], ...]
    #: month-day range of the summer vacation for years without their own ``summer_by_year`` dates
    summer: tuple[tuple[int, int], tuple[int, int]]
    official_years: frozenset[int] = frozenset()
    #: years whose winter vacation dates the bureau gave
    winter_years: frozenset[int] = frozenset()
    summer_by_year: tuple[tuple[int, date, date], ...] = ()
    #: regional days off (e.g. Guangxi 壮族三月三) the bureau adds on top of the national ones
    local_holidays: frozenset[date] = frozenset()
    #: where the official days come from, for /health and ``calendar check``
    sources: tuple[str, ...] = field(default=(), compare=False)

    def is_official(self, year: int) -> bool:
        return year in self.official_years

    def is_holiday(self, day: date) -> bool:
        """Official holiday, a bureau's local day off, or (in a year no notice covers) a computed one."""
        if day in self.local_holidays:
            return True
        if self.is_official(day.year):
            return day in self.holidays
        return day in computed_holidays(day.year)

    def key_period(self, day: date) -> str | None:
        """Which key period ``day`` falls in (the most specific), or ``None`` for an ordinary school day.

        In a year no notice covers, the answer is the computed one: see ``answer`` for whether it is provisional.

        >>> cal = load_calendar()
        >>> [cal.key_period(date.fromisoformat(d)) for d in ("2026-10-02", "2026-07-20", "2026-11-28", "2026-11-26")]
        ['holiday', 'summer_vacation', 'weekend', None]
        >>> cal.key_period(date(2025, 9, 28))  # a Sunday made a school day (调休): not a weekend key period
        """
        return self.answer(day).period

    def answer(self, day: date) -> KeyDay:
        """The key period of ``day`` and whether it rests on computed or missing dates (then: provisional).

        >>> cal = load_calendar()
        >>> cal.answer(date(2026, 10, 2))
        KeyDay(period='holiday', provisional=False, reasons=())
        >>> cal.answer(date(1999, 10, 2)).provisional  # before the package's first year: computed
        True
        """
        reasons = self.reasons(day)
        if self.is_holiday(day):
            period: str | None = "holiday"
        elif self._in_summer(day):
            period = "summer_vacation"
        elif any(start <= day <= end for start, end in self.winter):
            period = "winter_vacation"
        elif day.isoweekday() >= 6 and not (self.is_official(day.year) and day in self.workdays):
            period = "weekend"  # in a year without a notice no weekend is known to be a make-up working day
        else:
            period = None
        return KeyDay(period, bool(reasons), reasons)

    def reasons(self, day: date) -> tuple[str, ...]:
        """Why answers for ``day`` are provisional (empty: they rest on official and bureau dates)."""
        found = []
        if not self.is_official(day.year):
            found.append(
                f"{day.year} 年放假安排尚未录入，节假日按法定假日推算、调休上班日未知 "
                f"(no official {day.year} holiday notice: statutory holidays computed, make-up working days unknown)"
            )
        if day.year not in self.winter_years and _in_window(day, WINTER_WINDOW):
            found.append(f"{day.year} 年寒假日期未设置 (no {day.year} winter vacation dates in the calendar file)")
        return tuple(found)

    def notice(self, *days: date) -> str | None:
        """One line for maps and reports whose answers depend on ``days``, or ``None`` when all are firm.

        >>> load_calendar().notice(date(2026, 10, 2)) is None
        True
        """
        found: list[str] = []
        for day in days:
            found += [r for r in self.reasons(day) if r not in found]
        if not found:
            return None
        return "重点时段为暂定 Key periods are provisional: " + "；".join(found) + "。"

    def _in_summer(self, day: date) -> bool:
        for year, start, end in self.summer_by_year:
            if year == day.year:
                return start <= day <= end
        (m1, d1), (m2, d2) = self.summer
        return date(day.year, m1, d1) <= day <= date(day.year, m2, d2)

    def check(self, today: date, warn_days: int = WARN_DAYS_AHEAD) -> list[CalendarWarning]:
        """Which coming dates lack official holidays or winter vacation dates: this year's remaining dates and,
        from ``warn_days`` before it starts, next year's.

        >>> [w.kind for w in load_calendar().check(date(2026, 6, 1))]
        []
        """
        years = [today.year]
        if today >= date(today.year + 1, 1, 1) - timedelta(days=warn_days):
            years.append(today.year + 1)
        warnings = []
        for year in years:
            since = max(today, date(year, 1, 1))
            if not self.is_official(year):
                warnings.append(
                    CalendarWarning(
                        year,
                        "official_holidays",
                        since,
                        f"{since} 起无 {year} 年官方放假安排（节假日、调休上班日）：按推算的法定假日回答并标为暂定；"
                        f"请升级 chinesecalendar 包，或在日历文件中录入国务院办公厅通知 "
                        f"[years.{year}] holidays/workdays。 "
                        f"From {since} there is no official {year} holiday notice: key periods use computed "
                        f"statutory holidays and are marked provisional; upgrade the chinesecalendar package or "
                        f"add the notice to the calendar file.",
                    )
                )
            (m2, d2) = WINTER_WINDOW[1]
            if year not in self.winter_years and since <= date(year, m2, d2):
                warnings.append(
                    CalendarWarning(
                        year,
                        "winter_vacation",
                        since,
                        f"{year} 年寒假日期未设置：请在日历文件中录入 [years.{year}] winter_vacation。 "
                        f"No {year} winter vacation dates: add winter_vacation to [years.{year}] of the calendar file.",
                    )
                )
        return warnings

    def status(self, today: date) -> dict[str, object]:
        """The calendar part of ``/health`` and ``calendar check``: where the days come from, what is missing."""
        warnings = self.check(today)
        years = sorted(self.official_years)
        return {
            "status": "warning" if warnings else "ok",
            "sources": list(self.sources),
            "official_years": f"{years[0]}–{years[-1]}" if years else None,
            "winter_vacation_years": sorted(self.winter_years),
            "warnings": [
                {"year": w.year, "kind": w.kind, "since": w.since.isoformat(), "message": w.message} for w in warnings
            ],
        }


def _month_day(text: str) -> tuple[int, int]:
    """``"MM-DD"`` as (month, day); ``ValueError`` when it is not a day of a year.

    >>> _month_day("07-10")
    (7, 10)
    """
    month, day = (int(x) for x in text.split("-"))
    date(2000, month, day)  # a leap year: 02-29 is a day
    return month, day


def _in_window(day: date, window: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    (m1, d1), (m2, d2) = window
    return date(day.year, m1, d1) <= day <= date(day.year, m2, d2)


@lru_cache(maxsize=256)
def computed_holidays(year: int) -> frozenset[date]:
    """Statutory holidays of ``year`` as the law sets them (lunar dates included, weekend ones moved on), widened by
    the customary blocks of the notices: Spring Festival eve + 7 days, 1–5 May, 1–7 October, and the Monday before a
    Tuesday or the Friday after a Thursday holiday. Only for years no notice covers: the answers are provisional.

    >>> sorted(d.isoformat() for d in computed_holidays(2027) if d.month == 2)[:3]
    ['2027-02-05', '2027-02-06', '2027-02-07']
    """
    import holidays as holidays_lib

    found = holidays_lib.country_holidays("CN", years=year)
    days = set(found)
    for day, name in found.items():
        if "Eve" in name and "New Year" in name:  # Chinese New Year's Eve
            days |= {day + timedelta(days=i) for i in range(8)}
    days |= {date(year, 5, d) for d in range(1, 6)} | {date(year, 10, d) for d in range(1, 8)}
    for day in list(days):
        before, after = day - timedelta(days=1), day + timedelta(days=1)
        if before not in days and after not in days:  # a single day off: bridged to the weekend
            if day.isoweekday() == 2:
                days.add(before)
            elif day.isoweekday() == 4:
                days.add(after)
    return frozenset(d for d in days if d.year == year)


def _official_from_package() -> tuple[set[date], set[date], set[int], str | None]:
    """The State Council's days as the ``chinesecalendar`` package holds them (none when it is not installed)."""
    try:
        from chinese_calendar import constants
    except ImportError:
        return set(), set(), set(), None
    holidays = set(constants.holidays)
    years = {d.year for d in holidays}
    version = importlib.metadata.version("chinesecalendar")
    return holidays, set(constants.workdays), years, f"chinesecalendar {version} ({min(years)}–{max(years)})"


def _date(value: object, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{where}: {value!r} is not a YYYY-MM-DD date") from None


def _dates(values: object, where: str, years: Iterable[int]) -> set[date]:
    if not isinstance(values, list):
        raise InvalidInput(f"{where} must be a list of YYYY-MM-DD dates")
    found = {_date(v, where) for v in values}
    allowed = set(years)
    wrong = sorted(d.isoformat() for d in found if d.year not in allowed)
    if wrong:
        raise InvalidInput(f"{where}: {', '.join(wrong)} not in {'/'.join(map(str, sorted(allowed)))}")
    return found


def _span(spec: object, where: str) -> tuple[date, date]:
    if not isinstance(spec, dict) or not {"from", "to"} <= spec.keys():
        raise InvalidInput(f'{where} takes {{ from = "YYYY-MM-DD", to = "YYYY-MM-DD" }}')
    start, end = (_date(spec[k], where) for k in ("from", "to"))
    if end < start:
        raise InvalidInput(f"{where} ends before it starts")
    return start, end


def load_calendar(path: Path | None = None) -> KeyCalendar:
    """The package's official days under the bureau's calendar file (vacations; notices the package lacks)."""
    path = path or DEFAULT_CALENDAR_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path.name}: cannot read the calendar ({exc})") from exc
    holidays, workdays, official, package = _official_from_package()
    sources = [package] if package else []
    winter, winter_years, summer_by_year, local = [], set(), [], set()
    bureau_years = []
    for key, spec in data.get("years", {}).items():
        where = f"{path.name} [years.{key}]"
        try:
            year = int(key)
        except ValueError:
            raise InvalidInput(f"{where}: the table name must be a year") from None
        if not isinstance(spec, dict):
            raise InvalidInput(f"{where} must be a table")
        if "workdays" in spec and "holidays" not in spec:
            raise InvalidInput(f"{where}: give the year's whole notice, holidays with workdays")
        if "holidays" in spec:  # the year's notice: replaces the package's days of that year
            holidays = {d for d in holidays if d.year != year} | _dates(spec["holidays"], f"{where} holidays", [year])
            workdays = {d for d in workdays if d.year != year} | _dates(
                spec.get("workdays", []), f"{where} workdays", [year - 1, year]
            )
            official.add(year)
            bureau_years.append(year)
        local |= _dates(spec.get("local_holidays", []), f"{where} local_holidays", [year])
        if "winter_vacation" in spec:
            start, end = _span(spec["winter_vacation"], f"{where} winter_vacation")
            if start.year not in (year - 1, year):
                raise InvalidInput(f"{where} winter_vacation must start in {year - 1} or {year}")
            winter.append((start, end))
            winter_years.add(year)
        if "summer_vacation" in spec:
            start, end = _span(spec["summer_vacation"], f"{where} summer_vacation")
            if start.year != year or end.year != year:
                raise InvalidInput(f"{where} summer_vacation must lie in {year}")
            summer_by_year.append((year, start, end))
    if bureau_years:
        sources.append(f"{path.name} ({', '.join(map(str, sorted(bureau_years)))})")
    summer = data.get("summer_vacation", {"from": "07-10", "to": "08-31"})
    try:
        bounds = (_month_day(summer["from"]), _month_day(summer["to"]))
    except (KeyError, ValueError, TypeError, AttributeError):
        raise InvalidInput(f'{path.name}: summer_vacation takes {{ from = "MM-DD", to = "MM-DD" }}') from None
    return KeyCalendar(
        frozenset(holidays),
        frozenset(workdays),
        tuple(sorted(winter)),
        bounds,
        frozenset(official),
        frozenset(winter_years),
        tuple(sorted(summer_by_year)),
        frozenset(local),
        tuple(sources),
    )

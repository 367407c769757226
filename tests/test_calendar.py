"""Key-period calendar (issue 20): official days from the package, the bureau's file on top, computed and
provisional answers for a year no notice covers, and the warnings of /health and ``geo-safety calendar check``.

The calendars here hide 2027 from the package (``without_official``) so the tests hold whatever year the
installed ``chinesecalendar`` reaches. The 2027 notice in ``NOTICE_2027`` is test data, not the real notice.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from geo_safety import cli
from geo_safety.errors import InvalidInput
from geo_safety.keyperiods import KeyCalendar, KeyDay, computed_holidays, load_calendar
from geo_safety.ruleset import load_rules
from geo_safety.services import health
from geo_safety.services.hotspots import drowning_hotspots
from geo_safety.settings import Settings
from tests import test_hazards

world = test_hazards.world  # the hazard fixtures: zones, schools and accounts in a throwaway database

OLD_2026 = {  # the hand-written calendar this replaces (the State Council's 2026 notice)
    "holidays": ["2026-01-01", "2026-01-02", "2026-01-03"]
    + [f"2026-02-{d}" for d in range(15, 24)]
    + ["2026-04-04", "2026-04-05", "2026-04-06"]
    + [f"2026-05-0{d}" for d in range(1, 6)]
    + ["2026-06-19", "2026-06-20", "2026-06-21", "2026-09-25", "2026-09-26", "2026-09-27"]
    + [f"2026-10-0{d}" for d in range(1, 8)],
    "workdays": ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
}

NOTICE_2027 = """
[years.2027]
holidays = ["2027-01-01", "2027-01-02", "2027-01-03",
            "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11",
            "2027-02-12", "2027-02-13"]
workdays = ["2027-02-20"]
local_holidays = ["2027-04-09"]
winter_vacation = { from = "2027-01-23", to = "2027-02-17" }
summer_vacation = { from = "2027-07-03", to = "2027-08-31" }
"""


def without_official(calendar: KeyCalendar, *years: int) -> KeyCalendar:
    """``calendar`` as if no notice covered ``years`` (the package's days of those years dropped)."""
    return dataclasses.replace(
        calendar,
        official_years=calendar.official_years - set(years),
        holidays=frozenset(d for d in calendar.holidays if d.year not in years),
        workdays=frozenset(d for d in calendar.workdays if d.year not in years),
    )


@pytest.fixture
def packaged() -> KeyCalendar:
    return without_official(load_calendar(), 2027)


def bureau_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text('summer_vacation = { from = "07-10", to = "08-31" }\n' + body, encoding="utf-8")
    return path


# -- official days ---------------------------------------------------------------------------------------
def test_the_package_holds_the_notices_the_hand_written_file_had() -> None:
    calendar = load_calendar()
    assert {2025, 2026} <= calendar.official_years
    assert {d for d in calendar.holidays if d.year == 2026} == {date.fromisoformat(d) for d in OLD_2026["holidays"]}
    assert {d for d in calendar.workdays if d.year == 2026} == {date.fromisoformat(d) for d in OLD_2026["workdays"]}
    assert any("chinesecalendar" in s for s in calendar.sources)
    for day in ("2026-10-02", "2025-10-08", "2026-02-23"):
        assert calendar.answer(date.fromisoformat(day)).provisional is False


# -- a year no notice covers: computed, provisional, never silently None ---------------------------------
@pytest.mark.parametrize(
    ("day", "period"),
    [
        ("2027-01-01", "holiday"),  # New Year's Day (a Friday)
        ("2027-02-05", "holiday"),  # Spring Festival eve
        ("2027-02-06", "holiday"),  # Spring Festival
        ("2027-02-08", "holiday"),
        ("2027-02-12", "holiday"),  # the customary eighth day of the block
        ("2027-05-03", "holiday"),  # May Day block 1–5 May
        ("2027-10-04", "holiday"),  # National Day block 1–7 October
        ("2027-06-09", "holiday"),  # Dragon Boat Festival (lunar 5/5)
        ("2027-07-20", "summer_vacation"),
        ("2027-02-20", "weekend"),  # a Saturday that may turn out a make-up working day: weekend until known
        ("2027-11-17", None),  # an ordinary Wednesday: no key period, but provisional
    ],
)
def test_a_year_without_a_notice_is_computed_and_provisional(packaged: KeyCalendar, day: str, period: str) -> None:
    answer = packaged.answer(date.fromisoformat(day))
    assert answer.period == period
    assert answer.provisional and any("2027" in r and "computed" in r for r in answer.reasons)
    assert packaged.key_period(date.fromisoformat(day)) == period


def test_computed_statutory_days_follow_the_lunar_calendar() -> None:
    spring_2027 = {d for d in computed_holidays(2027) if d.month == 2}
    assert spring_2027 == {date(2027, 2, d) for d in range(5, 13)}  # eve (5 Feb) + 7 days; 初一 is 6 Feb
    assert {date(2028, 1, 25), date(2028, 1, 26)} <= computed_holidays(2028)  # 2028: 初一 is 26 January


def test_winter_vacation_missing_makes_early_year_answers_provisional(tmp_path: Path) -> None:
    calendar = without_official(load_calendar(bureau_file(tmp_path, NOTICE_2027)), 2028)
    assert calendar.answer(date(2027, 3, 3)) == KeyDay(None, False, ())  # 2027: notice and winter dates given
    assert calendar.answer(date(2027, 2, 3)).period == "winter_vacation"
    no_winter = calendar.answer(date(2028, 3, 1)).reasons
    assert any("winter vacation" in r for r in no_winter)
    assert not any("winter vacation" in r for r in calendar.answer(date(2028, 5, 1)).reasons)


# -- the bureau's file ---------------------------------------------------------------------------------
def test_a_bureaus_notice_makes_the_year_official(tmp_path: Path) -> None:
    calendar = load_calendar(bureau_file(tmp_path, NOTICE_2027))
    assert calendar.is_official(2027)
    saturday = calendar.answer(date(2027, 2, 20))  # the (test) notice's make-up working day
    assert saturday.period is None and not saturday.provisional
    assert calendar.answer(date(2027, 2, 13)).period == "holiday"
    assert calendar.answer(date(2027, 5, 3)).period is None  # not in this (test) notice: the notice rules
    assert calendar.answer(date(2027, 4, 9)).period == "holiday"  # a regional day off (三月三)
    assert calendar.answer(date(2027, 7, 5)).period == "summer_vacation"  # the year's own summer dates
    assert calendar.answer(date(2026, 7, 6)).period is None  # other years: the month-day range
    assert calendar.answer(date(2027, 1, 25)).period == "winter_vacation"
    assert calendar.notice(date(2027, 1, 25), date(2027, 11, 17)) is None
    assert calendar.check(date(2026, 12, 2)) == []


def test_a_bureaus_notice_replaces_the_packages_year(tmp_path: Path) -> None:
    calendar = load_calendar(bureau_file(tmp_path, '[years.2026]\nholidays = ["2026-01-01"]\n'))
    assert calendar.key_period(date(2026, 10, 2)) is None  # a Friday no longer in the (corrected) notice
    assert calendar.key_period(date(2026, 10, 10)) == "weekend"  # its workdays went with it
    assert calendar.key_period(date(2025, 10, 8)) == "holiday"  # other years still from the package


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[years.2027]\nworkdays = ["2027-02-20"]\n', "whole notice"),
        ('[years.2027]\nholidays = ["2026-02-20"]\n', "not in 2027"),
        ('[years.2027]\nholidays = ["2027-02-30"]\n', "not a YYYY-MM-DD date"),
        ('[years.2027]\nwinter_vacation = { from = "2027-02-20", to = "2027-01-20" }\n', "ends before"),
        ('[years.2027]\nwinter_vacation = { from = "2027-02-20" }\n', "takes"),
        ("[years.next]\nholidays = []\n", "must be a year"),
    ],
)
def test_calendar_file_errors_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_calendar(bureau_file(tmp_path, body))


def test_the_rules_carry_the_calendar_file(tmp_path: Path) -> None:
    rules = load_rules(None, bureau_file(tmp_path, NOTICE_2027))
    assert rules.day_facts(date(2027, 2, 20))["key_period"] is False
    assert rules.day_facts(date(2027, 2, 13))["holiday"] is True


# -- warnings: /health and `geo-safety calendar check` -----------------------------------------------------
def test_a_coming_year_without_dates_warns_from_60_days_ahead(packaged: KeyCalendar) -> None:
    assert packaged.check(date(2026, 11, 1)) == []  # 61 days before
    kinds = {(w.year, w.kind) for w in packaged.check(date(2026, 11, 2))}
    assert kinds == {(2027, "official_holidays"), (2027, "winter_vacation")}
    today = packaged.check(date(2026, 12, 2))
    assert {w.since for w in today} == {date(2027, 1, 1)}
    inside = packaged.check(date(2027, 4, 1))  # already in the year: its holidays still warn, its winter is past
    assert [(w.kind, w.since) for w in inside] == [("official_holidays", date(2027, 4, 1))]


def test_a_year_with_no_vacation_dates_warns(tmp_path: Path) -> None:
    notice_only = NOTICE_2027.split("winter_vacation")[0]
    calendar = load_calendar(bureau_file(tmp_path, notice_only))
    warnings = calendar.check(date(2026, 12, 2))
    assert [(w.year, w.kind) for w in warnings] == [(2027, "winter_vacation")]
    assert "寒假" in warnings[0].message and "winter vacation" in warnings[0].message


def test_health_reports_the_calendar(packaged: KeyCalendar, engine: Engine) -> None:
    found = health.check(engine, calendar=packaged, today=date(2026, 12, 2))["calendar"]
    assert found["status"] == "warning"  # type: ignore[index]
    assert {w["kind"] for w in found["warnings"]} == {"official_holidays", "winter_vacation"}  # type: ignore[index]
    assert health.check(engine, detailed=False, calendar=packaged) == {"status": "ok"}
    calm = health.check(engine, calendar=packaged, today=date(2026, 6, 1))["calendar"]
    assert calm["status"] == "ok" and calm["warnings"] == []  # type: ignore[index]


def test_health_endpoint_shows_the_calendar_to_signed_in_callers(world, client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    detailed = client.get("/health", headers=test_hazards.auth(world["viewer"])).json()
    assert detailed["calendar"]["status"] in ("ok", "warning") and "warnings" in detailed["calendar"]


def test_calendar_check_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: Settings(calendar=None))
    assert cli.main(["calendar", "check", "--date", "2026-06-01"]) == 0
    assert "OK" in capsys.readouterr().out
    if not load_calendar().is_official(2027):
        assert cli.main(["calendar", "check", "--date", "2026-12-02"]) == 1
        out = capsys.readouterr().out
        assert "WARNING 2027 official_holidays" in out and "2027-01-01" in out and "chinesecalendar" in out
        assert "WARNING 2027 winter_vacation" in out
    bureau = Settings(calendar=bureau_file(tmp_path, NOTICE_2027))  # as GEO_SAFETY_CALENDAR=... gives it
    monkeypatch.setattr(cli, "get_settings", lambda: bureau)
    assert cli.main(["calendar", "check", "--date", "2026-12-02", "--json"]) == 0
    assert '"status": "ok"' in capsys.readouterr().out


# -- answers that depend on the calendar say so ------------------------------------------------------------
def test_hotspots_of_a_year_without_a_notice_are_provisional(world, beihai: Engine, packaged: KeyCalendar) -> None:
    rules = dataclasses.replace(load_rules(), calendar=packaged)
    found = drowning_hotspots(beihai, rules, date(2027, 1, 1), None)
    assert found["key_period"] == "holiday" and found["provisional"] is True
    assert "2027" in found["calendar_notice"] and "provisional" in found["calendar_notice"]
    assert found["features"] and all(f["properties"]["key_period_provisional"] for f in found["features"])
    firm = drowning_hotspots(beihai, rules, test_hazards.HOLIDAY, None)
    assert firm["provisional"] is False and firm["calendar_notice"] is None
    assert not any(f["properties"]["key_period_provisional"] for f in firm["features"])


def test_hotspot_api_and_ogc_items_carry_the_flag(world, client: TestClient) -> None:
    body = test_hazards.hotspots(client, world["viewer"], test_hazards.HOLIDAY)
    assert body["provisional"] is False and body["calendar_notice"] is None
    far = test_hazards.hotspots(client, world["viewer"], date(2031, 10, 2))  # beyond any package's notices
    assert far["key_period"] == "holiday" and far["provisional"] is True and "2031" in far["calendar_notice"]
    items = client.get(
        "/collections/drowning_hotspots/items?date=2031-10-02", headers=test_hazards.auth(world["viewer"])
    )
    assert items.status_code == 200, items.text
    features = items.json()["features"]
    assert features and all(f["properties"]["key_period_provisional"] is True for f in features)


def test_a_report_over_a_computed_year_says_it_is_provisional(beihai: Engine, packaged: KeyCalendar) -> None:
    from geo_safety.services.reports import programme

    rules = dataclasses.replace(load_rules(), calendar=without_official(packaged, 2027))
    firm = programme(beihai, rules, date(2026, 10, 1), date(2026, 10, 31), None)
    assert firm["provisional"] is False and firm["calendar_notice"] is None
    computed = programme(beihai, rules, date(2027, 1, 1), date(2027, 1, 31), None)
    assert computed["provisional"] is True and "2027" in computed["calendar_notice"]

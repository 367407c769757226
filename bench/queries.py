"""The due list and the hotspot ranking through the service, beside the in-memory floor, per district.

Each district of the world is asked in turn (after one warm-up), through the same service functions
the API calls (``inspections.due`` with its first page of 1,000, ``hotspots.drowning_hotspots``);
the whole area is asked twice. The day is today (Asia/Shanghai), which the due state kept at write time
answers (migration 0010); the due list of a past day (``PAST_DAY``, the exact statement) is timed beside it.
The floor computes the same answers in memory (``bench.floors``) and
is compared with the service's whole answer as sets: due targets with their reasons, hotspot ids. Every
difference is printed (and the first few named in the results), never only the counts.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine, text

from bench.floors import due_floor, hotspot_floor, read_layers
from geo_safety.process import tune_gc
from geo_safety.rules import today_local
from geo_safety.ruleset import RuleSet
from geo_safety.services import hotspots, inspections
from geo_safety.services.hotspots import drowning_hotspots
from geo_safety.services.inspections import due

PAST_DAY = date(2026, 11, 2)  # a Monday in term, a day after the generator's reference date
DAY = today_local()


@dataclass
class Timing:
    what: str
    scale: str
    samples_ms: list[float] = field(default_factory=list)
    whole_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    agree: str = ""
    differences: list[str] = field(default_factory=list)

    def pct(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return self.pct(self.samples_ms, 0.95)


def _ms(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def districts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT code FROM districts ORDER BY code")).scalars())


def run(engine: Engine, rules: RuleSet, scale: str, rounds: int) -> list[Timing]:
    codes = districts(engine)
    due_t, hot_t = Timing("due list", scale), Timing("hotspots", scale)
    past_t = Timing(f"due list, past day {PAST_DAY} (exact statement)", scale)
    due(engine, rules, DAY, (codes[0],))  # warm-up: caches, plans
    tune_gc()  # as a serving process runs (geo_safety.process)
    for _ in range(rounds):
        for code in codes:
            due_t.samples_ms.append(_ms(lambda c=code: due(engine, rules, DAY, (c,)))[0])
            hot_t.samples_ms.append(_ms(lambda c=code: drowning_hotspots(engine, rules, DAY, (c,)))[0])
            past_t.samples_ms.append(_ms(lambda c=code: due(engine, rules, PAST_DAY, (c,)))[0])
    for _ in range(2):
        due_t.whole_ms.append(_ms(lambda: due(engine, rules, DAY, None))[0])
        hot_t.whole_ms.append(_ms(lambda: drowning_hotspots(engine, rules, DAY, None))[0])
        past_t.whole_ms.append(_ms(lambda: due(engine, rules, PAST_DAY, None))[0])
    # the floor, and whether it agrees, on the first district
    layers = read_layers(engine, codes[0], DAY)
    for _ in range(3):
        floor_due, seconds = due_floor(layers, rules, DAY)
        due_t.floor_ms.append(seconds * 1000)
        ranked, seconds = hotspot_floor(layers, rules, DAY)
        hot_t.floor_ms.append(seconds * 1000)
    service_due = whole_due(engine, rules, DAY, (codes[0],))
    due_t.differences = compare(floor_due, service_due)
    due_t.agree = f"{len(floor_due):,} due in memory, {len(service_due):,} by the service " + _verdict(
        due_t.differences, "same set: ids and reasons"
    )
    service_hot = whole_hotspots(engine, rules, DAY, (codes[0],))
    hot_t.differences = compare(dict.fromkeys(ranked, "hotspot"), dict.fromkeys(service_hot, "hotspot"))
    top = "same top 10" if ranked[:10] == service_hot[:10] else "top 10 differs"
    hot_t.agree = f"{len(ranked):,} hotspots in memory, {len(service_hot):,} by the service " + _verdict(
        hot_t.differences, f"same set, {top}"
    )
    for timing in (due_t, hot_t):
        print(f"{timing.what}, {scale}, district {codes[0]}: {timing.agree}", flush=True)
        for line in timing.differences:
            print(f"  {line}", flush=True)
    past_t.floor_ms = due_t.floor_ms
    past_t.agree = "the exact statement (no floor of its own: the same floor as today's list)"
    return [due_t, hot_t, past_t]


def whole_due(engine: Engine, rules: RuleSet, day: date, scope: tuple[str, ...] | None) -> dict[str, str]:
    """The service's whole due list (id → reason), page after page: the first page is not the answer."""
    found: dict[str, str] = {}
    while True:
        page = due(engine, rules, day, scope, limit=inspections.MAX_PAGE, offset=len(found))["features"]
        found.update((f["id"], f["properties"]["reason"]) for f in page)
        if len(page) < inspections.MAX_PAGE:
            return found


def whole_hotspots(engine: Engine, rules: RuleSet, day: date, scope: tuple[str, ...] | None) -> list[str]:
    """The service's whole hotspot ranking (ids, highest risk first)."""
    found: list[str] = []
    while True:
        page = drowning_hotspots(engine, rules, day, scope, limit=hotspots.MAX_PAGE, offset=len(found))["features"]
        found += [f["id"] for f in page]
        if len(page) < hotspots.MAX_PAGE:
            return found


def compare(floor: dict[str, str], service: dict[str, str]) -> list[str]:
    """One line per target the two answers disagree on (missing on one side, or another reason)."""
    lines = [f"{key}: in memory only ({floor[key]})" for key in sorted(floor.keys() - service.keys())]
    lines += [f"{key}: by the service only ({service[key]})" for key in sorted(service.keys() - floor.keys())]
    lines += [
        f"{key}: reason {floor[key]} in memory, {service[key]} by the service"
        for key in sorted(floor.keys() & service.keys())
        if floor[key] != service[key]
    ]
    return lines


def _verdict(differences: list[str], same: str, shown: int = 3) -> str:
    if not differences:
        return f"({same})"
    more = f"; {len(differences) - shown:,} more" if len(differences) > shown else ""
    return f"({len(differences):,} DIFFERENT: {'; '.join(differences[:shown])}{more})"


def explain(engine: Engine, rules: RuleSet, code: str) -> str:
    """EXPLAIN ANALYZE of the due list for one district: where the time goes."""
    from geo_safety.services.inspections import due_params, due_statement

    params = due_params(rules, DAY, (code,), limit=1000)
    with engine.connect() as conn:
        statement = due_statement(conn, rules, DAY, params)
        plan = conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + statement.text), params).scalars()
        return "\n".join(plan)

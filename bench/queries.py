"""The due list and the hotspot ranking through the service, beside the in-memory floor, per district.

Each district of the world is asked in turn (after one warm-up), through the same service functions
the API calls (``inspections.due`` with its first page of 1,000, ``hotspots.drowning_hotspots``);
the whole area is asked twice. The floor computes the same answers in memory (``bench.floors``) and
its id sets are compared with the service's.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine, text

from bench.floors import due_floor, hotspot_floor, read_layers
from geo_safety.ruleset import RuleSet
from geo_safety.services.hotspots import drowning_hotspots
from geo_safety.services.inspections import due

DAY = date(2026, 11, 2)  # a Monday in term, a day after the generator's reference date


@dataclass
class Timing:
    what: str
    scale: str
    samples_ms: list[float] = field(default_factory=list)
    whole_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    agree: str = ""

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
    due(engine, rules, DAY, (codes[0],))  # warm-up: caches, plans
    for _ in range(rounds):
        for code in codes:
            due_t.samples_ms.append(_ms(lambda c=code: due(engine, rules, DAY, (c,)))[0])
            hot_t.samples_ms.append(_ms(lambda c=code: drowning_hotspots(engine, rules, DAY, (c,)))[0])
    for _ in range(2):
        due_t.whole_ms.append(_ms(lambda: due(engine, rules, DAY, None))[0])
        hot_t.whole_ms.append(_ms(lambda: drowning_hotspots(engine, rules, DAY, None))[0])
    # the floor, and whether it agrees, on the first district
    layers = read_layers(engine, codes[0], DAY)
    service_due = due(engine, rules, DAY, (codes[0],), limit=1)["numberMatched"]
    for _ in range(3):
        ids, seconds = due_floor(layers, rules, DAY)
        due_t.floor_ms.append(seconds * 1000)
        ranked, seconds = hotspot_floor(layers, rules, DAY)
        hot_t.floor_ms.append(seconds * 1000)
    service_hot = [f["id"] for f in drowning_hotspots(engine, rules, DAY, (codes[0],), limit=5000)["features"]]
    due_t.agree = f"{len(ids):,} due in memory, {service_due:,} by the service"
    same = "same" if set(ranked) == set(service_hot) else "DIFFERENT"
    top = "same top 10" if ranked[:10] == service_hot[:10] else "top 10 differs"
    hot_t.agree = f"{len(ranked):,} hotspots in memory, {len(service_hot):,} by the service ({same} set, {top})"
    return [due_t, hot_t]


def explain(engine: Engine, rules: RuleSet, code: str) -> str:
    """EXPLAIN ANALYZE of the due list for one district: where the time goes."""
    from geo_safety import queries
    from geo_safety.services import links
    from geo_safety.services.inspections import due_params

    params = due_params(rules, DAY, (code,), limit=1000)
    with engine.connect() as conn:
        plan = conn.execute(
            text("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + queries.due_targets(links.cover_rules(rules)).text),
            params,
        ).scalars()
        return "\n".join(plan)

"""Programme statistics: the counts of the city's annual report, as a query instead of a spreadsheet."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from geo_safety import queries
from geo_safety.errors import InvalidInput
from geo_safety.ruleset import RuleSet
from geo_safety.services.inspections import rule_params

#: column -> Chinese label (the report's headings), in report order
COLUMNS = {
    "district_code": "区县代码",
    "name": "区县",
    "premise_inspections": "场所检查次数",
    "zone_inspections": "水域检查次数",
    "premises_inspected": "检查场所数",
    "violations_found": "发现违规",
    "violations_closed": "违规已关停",
    "failures": "不合格次数",
    "failures_rechecked_on_time": "按期复查",
    "unguarded_zones": "未达标水域（期末）",
    "zones_became_guarded": "期内整改达标水域",
    "schools": "学校数",
    "schools_compliant": "四项达标学校",
    "schools_compliant_pct": "四项达标率%",
    "students_near_unguarded": "未达标水域1公里内学生",
}
_SUMMED = [c for c in COLUMNS if c not in ("district_code", "name", "schools_compliant_pct")]


def _unguarded(engine: Engine, rules: RuleSet, day: date, districts: list[str] | None) -> dict[str, str]:
    params = {**rules.day_facts(day), "districts": districts}
    with engine.connect() as conn:
        return {r.id: r.district_code for r in conn.execute(queries.zone_states_at(), params) if r.missing}


def programme(
    engine: Engine, rules: RuleSet, date_from: date, date_to: date, districts: tuple[str, ...] | None
) -> dict[str, Any]:
    """Per district and in total, for the period ``date_from``–``date_to`` (zone states as at its two ends)."""
    if date_to < date_from:
        raise InvalidInput(f"the period ends ({date_to}) before it starts ({date_from})")
    scope = list(districts) if districts else None
    params = {
        **rule_params(rules),
        "districts": scope,
        "date_from": date_from,
        "date_to": date_to,
        "recheck": rules.recheck_days,
    }
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(queries.programme_counts(), params).mappings()]
    at_start = _unguarded(engine, rules, date_from, scope)
    at_end = _unguarded(engine, rules, date_to, scope)
    with engine.connect() as conn:
        near = {
            r.district_code: int(r.students)
            for r in conn.execute(
                queries.students_near_zones(), {"ids": list(at_end), "radius": rules.hazards.radius_m}
            )
        }
    for row in rows:
        code = row["district_code"]
        row["unguarded_zones"] = sum(1 for d in at_end.values() if d == code)
        row["zones_became_guarded"] = sum(1 for z, d in at_start.items() if d == code and z not in at_end)
        row["students_near_unguarded"] = near.get(code, 0)
        row["students"] = int(row["students"])
        row["schools_compliant_pct"] = (
            round(100 * row["schools_compliant"] / row["schools"], 1) if row["schools"] else None
        )
    total: dict[str, Any] = {"district_code": None, "name": "合计 total"}
    for column in _SUMMED:
        total[column] = sum(r[column] for r in rows)
    total["students"] = sum(r["students"] for r in rows)
    total["schools_compliant_pct"] = (
        round(100 * total["schools_compliant"] / total["schools"], 1) if total["schools"] else None
    )
    return {"from": date_from.isoformat(), "to": date_to.isoformat(), "districts": rows, "total": total}


def as_table(report: dict[str, Any]) -> pd.DataFrame:
    """The report as one table (districts, then the total), with Chinese headings."""
    frame = pd.DataFrame([*report["districts"], report["total"]])
    return frame[list(COLUMNS)].rename(columns=COLUMNS)


def compliance(engine: Engine, districts: tuple[str, ...] | None) -> dict[str, Any]:
    """Schools not meeting all four security items, as GeoJSON with what each lacks."""
    with engine.connect() as conn:
        rows = conn.execute(queries.school_compliance(), {"districts": list(districts) if districts else None}).all()
    features = [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
            "properties": {
                "id": r.id,
                "name": r.name,
                "kind": r.kind,
                "students": r.students,
                "district_code": r.district_code,
                "lacking": r.lacking,
            },
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "numberMatched": rows[0].matched if rows else 0, "features": features}

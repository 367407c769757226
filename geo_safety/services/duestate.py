"""The premises' due state kept at write time (migration 0010): which rules it was made with, and when to use it.

Triggers keep ``premise_due`` in step with every write, computed with the rules stored in ``due_rules``. This
module stores a process's rules there (recomputing every row when they differ) and tells readers whether the
stored state answers for the rules they hold; otherwise they take the exact path, so a state made with other
rules is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date

from sqlalchemy import Connection, Engine

from geo_safety.ruleset import RuleSet
from geo_safety.services import links
from geo_safety.sql import maintenance as sql_maintenance

log = logging.getLogger(__name__)

#: one writer at a time recomputes the whole state (two workers starting together: the second finds it done)
_LOCK_KEY = 0x6765_6F5F_6475_65  # "geo_due"


def fingerprint(rules: RuleSet) -> str:
    """What the stored state depends on: each rule's distances, violation and interval, the recheck days and the
    hotspot radius (``zone_exposure``)."""
    items = sorted(
        (r.category, r.kindergarten_m, r.other_m, r.violation, r.interval_days) for r in rules.rules.values()
    )
    return hashlib.sha256(json.dumps([items, rules.recheck_days, rules.hazards.radius_m]).encode()).hexdigest()


def usable(conn: Connection, rules: RuleSet, day: date, today: date) -> bool:
    """Whether the stored state answers "due on ``day``" for ``rules``.

    Only for today and later (a row with a record after ``day`` is judged exactly by the query); past days take
    the exact path, which reads history as it stood. Rules reaching beyond the stored links never match.
    """
    if day < today or not links.cover_rules(rules):
        return False
    stored = conn.execute(sql_maintenance.DUE_FINGERPRINT).scalar_one_or_none()
    return stored == fingerprint(rules)


def exposure_usable(conn: Connection, radius_m: float) -> bool:
    """Whether ``zone_exposure`` holds the schools within ``radius_m`` of each zone (the radius it was made for)."""
    stored = conn.execute(sql_maintenance.DUE_HAZARD_RADIUS).scalar_one_or_none()
    return stored is not None and float(stored) == float(radius_m) and links.cover_radius(radius_m)


def ensure(engine: Engine, rules: RuleSet) -> bool:
    """Store ``rules`` and recompute every premise's state if the stored ones differ; ``True`` when usable.

    About 35 s at province scale (a million premises, 20,000 zones), once per change of rules, in one
    transaction: readers see the old state (or, before the first, the exact path) until it commits.
    """
    wanted = fingerprint(rules)
    with engine.begin() as conn:
        conn.execute(sql_maintenance.ADVISORY_XACT_LOCK, {"key": _LOCK_KEY})
        stored = conn.execute(sql_maintenance.DUE_FINGERPRINT).scalar_one_or_none()
        if not links.cover_rules(rules):  # the exact path measures what the links do not hold
            return False
        if stored == wanted:
            return True
        conn.execute(sql_maintenance.DELETE_DUE_META)
        conn.execute(sql_maintenance.DELETE_DUE_RULES)
        if rules.rules:
            conn.execute(
                sql_maintenance.INSERT_DUE_RULE,
                [
                    {
                        "category": r.category,
                        "kg_m": r.kindergarten_m,
                        "other_m": r.other_m,
                        "violation": r.violation,
                        "interval_days": r.interval_days,
                    }
                    for r in rules.rules.values()
                ],
            )
        conn.execute(
            sql_maintenance.INSERT_DUE_META,
            {"fp": wanted, "recheck": rules.recheck_days, "radius": rules.hazards.radius_m},
        )
        conn.execute(sql_maintenance.TRUNCATE_DUE_STATE)
        conn.execute(sql_maintenance.REFRESH_ALL_PREMISE_DUE)
        conn.execute(sql_maintenance.REFRESH_ALL_ZONE_EXPOSURE)
    log.info("due state recomputed for new rules", extra={"fingerprint": wanted[:12]})
    return True

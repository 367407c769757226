"""The distance rule table, loaded from a TOML file a bureau can override (``GEO_SAFETY_RULES``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from geo_safety.errors import InvalidInput
from geo_safety.keyperiods import KeyCalendar, load_calendar
from geo_safety.rules import GUARD_MEASURES, HazardKind, PremisesCategory, SchoolKind

DEFAULT_RULES_FILE = Path(__file__).with_name("rules_default.toml")


@dataclass(frozen=True)
class DistanceRule:
    """Premises of ``category`` within the distance of a school are in scope (and prohibited if ``violation``)."""

    category: str
    kindergarten_m: float | None
    other_m: float | None
    violation: bool
    interval_days: int
    basis: str
    #: what an inspector ticks on site (the visit form's findings), in the bureau's words
    checklist: tuple[str, ...] = ()

    def distance_for(self, kind: SchoolKind | str) -> float | None:
        """
        >>> DistanceRule("internet_cafe", None, 200, True, 30, "").distance_for("kindergarten") is None
        True
        """
        return self.kindergarten_m if SchoolKind(kind) is SchoolKind.KINDERGARTEN else self.other_m


@dataclass(frozen=True)
class HazardRules:
    """What a water zone needs to count as guarded, and how hotspots are found and scored."""

    required_measures: tuple[str, ...] = ("warning_sign", "lifebuoy", "rescue_rope", "rescue_pole")
    fence_kinds: tuple[str, ...] = ("pond", "pit", "canal")
    radius_m: float = 1000.0
    interval_days: int = 30
    key_period_interval_days: int = 7
    kind_weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(HazardKind, 1.0))
    #: findings to tick at a zone, besides the measures found (``GUARD_MEASURES``)
    checklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    rules: dict[str, DistanceRule]
    recheck_days: int = 7
    off_site_m: float = 100.0
    hazards: HazardRules = field(default_factory=HazardRules)
    calendar: KeyCalendar = field(default_factory=load_calendar)
    #: checklists of categories without a distance rule (``[checklists]``, e.g. ``other``)
    extra_checklists: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def checklist_for(self, category: str) -> tuple[str, ...]:
        """The findings to tick for a premise of ``category`` (empty when the rule file names none)."""
        rule = self.rules.get(category)
        if rule is not None and rule.checklist:
            return rule.checklist
        return self.extra_checklists.get(category, ())

    def day_facts(self, day: date) -> dict[str, object]:
        """Binds of the hazard statements for ``day``: key period, holiday, ISO weekday, check interval."""
        key = self.calendar.key_period(day) is not None
        return {
            "day": day,
            "key_period": key,
            "holiday": self.calendar.is_holiday(day),
            "isodow": day.isoweekday(),
            "required": list(self.hazards.required_measures),
            "fence_kinds": list(self.hazards.fence_kinds),
            "radius": self.hazards.radius_m,
            "hz_interval": self.hazards.key_period_interval_days if key else self.hazards.interval_days,
        }

    @property
    def distances_m(self) -> list[float]:
        """Every distinct rule distance, largest first (for the buffer rings on maps)."""
        found = {d for r in self.rules.values() for d in (r.kindergarten_m, r.other_m) if d is not None}
        return sorted(found, reverse=True)


def load_rules(path: Path | None = None, calendar_path: Path | None = None) -> RuleSet:
    """Read and check a rules file (and the key-period calendar); errors name the file and the field."""
    path = path or DEFAULT_RULES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path.name}: cannot read the rules file ({exc})") from exc
    rules: dict[str, DistanceRule] = {}
    for category, spec in data.get("rules", {}).items():
        if category not in PremisesCategory.__members__.values():
            raise InvalidInput(f"{path.name}: unknown premises category {category!r}")
        distances = [spec.get("kindergarten_m"), spec.get("other_m")]
        if any(d is not None and (not isinstance(d, int | float) or not 0 < d <= 5000) for d in distances):
            raise InvalidInput(f"{path.name}: [rules.{category}] distances must be numbers of metres in (0, 5000]")
        interval = spec.get("interval_days")
        if not isinstance(interval, int) or interval < 1:
            raise InvalidInput(f"{path.name}: [rules.{category}] interval_days must be a whole number ≥ 1")
        rules[category] = DistanceRule(
            category,
            distances[0],
            distances[1],
            bool(spec.get("violation", False)),
            interval,
            str(spec.get("basis", "")),
            _checklist(spec.get("checklist", []), f"{path.name}: [rules.{category}] checklist"),
        )
    extra: dict[str, tuple[str, ...]] = {}
    for category, items in data.get("checklists", {}).items():
        if category not in PremisesCategory.__members__.values():
            raise InvalidInput(f"{path.name}: [checklists] names an unknown premises category {category!r}")
        extra[category] = _checklist(items, f"{path.name}: [checklists] {category}")
    inspection = data.get("inspection", {})
    return RuleSet(
        rules,
        int(inspection.get("recheck_days", 7)),
        float(inspection.get("off_site_m", 100)),
        _hazard_rules(data.get("hazards", {}), path.name),
        load_calendar(calendar_path),
        extra,
    )


MAX_CHECKLIST_ITEMS = 30


def _checklist(items: object, where: str) -> tuple[str, ...]:
    """A checklist is a short list of distinct, non-empty labels (they become the visit's findings text).

    >>> _checklist(["接纳未成年人", " 超时营业 "], "x")
    ('接纳未成年人', '超时营业')
    """
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise InvalidInput(f"{where} must be a list of non-empty texts")
    labels = tuple(i.strip() for i in items)
    if len(labels) > MAX_CHECKLIST_ITEMS or any(len(i) > 100 for i in labels) or len(set(labels)) != len(labels):
        raise InvalidInput(f"{where}: at most {MAX_CHECKLIST_ITEMS} distinct items of at most 100 characters")
    return labels


def _hazard_rules(spec: dict[str, Any], file_name: str) -> HazardRules:
    default = HazardRules()
    measures = tuple(spec.get("required_measures", default.required_measures))
    fence_kinds = tuple(spec.get("fence_kinds", default.fence_kinds))
    weights = {**default.kind_weights, **spec.get("kind_weights", {})}
    if not set(measures) <= set(GUARD_MEASURES):
        raise InvalidInput(f"{file_name}: [hazards] required_measures must be among {', '.join(GUARD_MEASURES)}")
    kinds = {k.value for k in HazardKind}
    if not set(fence_kinds) <= kinds or not set(weights) <= kinds:
        raise InvalidInput(f"{file_name}: [hazards] names an unknown hazard kind; known: {', '.join(sorted(kinds))}")
    radius = float(spec.get("radius_m", default.radius_m))
    if not 0 < radius <= 5000:
        raise InvalidInput(f"{file_name}: [hazards] radius_m must be in (0, 5000]")
    return HazardRules(
        measures,
        fence_kinds,
        radius,
        int(spec.get("interval_days", default.interval_days)),
        int(spec.get("key_period_interval_days", default.key_period_interval_days)),
        {str(k): float(v) for k, v in weights.items()},
        _checklist(spec.get("checklist", []), f"{file_name}: [hazards] checklist"),
    )

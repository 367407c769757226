"""The distance rule table, loaded from a TOML file a bureau can override (``GEO_SAFETY_RULES``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from geo_safety.errors import InvalidInput
from geo_safety.rules import PremisesCategory, SchoolKind

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

    def distance_for(self, kind: SchoolKind | str) -> float | None:
        """
        >>> DistanceRule("internet_cafe", None, 200, True, 30, "").distance_for("kindergarten") is None
        True
        """
        return self.kindergarten_m if SchoolKind(kind) is SchoolKind.KINDERGARTEN else self.other_m


@dataclass(frozen=True)
class RuleSet:
    rules: dict[str, DistanceRule]
    recheck_days: int = 7
    off_site_m: float = 100.0

    @property
    def distances_m(self) -> list[float]:
        """Every distinct rule distance, largest first (for the buffer rings on maps)."""
        found = {d for r in self.rules.values() for d in (r.kindergarten_m, r.other_m) if d is not None}
        return sorted(found, reverse=True)


def load_rules(path: Path | None = None) -> RuleSet:
    """Read and check a rules file; errors name the file, the category and the field."""
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
        )
    inspection = data.get("inspection", {})
    return RuleSet(rules, int(inspection.get("recheck_days", 7)), float(inspection.get("off_site_m", 100)))

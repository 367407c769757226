"""Where a caller may write: the one check every write path (API, file import, command line) goes through.

A write scope is the set of districts a caller may write in, or the whole city (``districts is None``: admins,
city-wide planners, and the machine operator running ``geo-safety load``). For a district-limited caller
every row written must

1. not be a stored row of another district (an id of another district's zone cannot be taken over, not even a
   soft-deleted one; the caller is not told which district holds it),
2. lie in one of their districts (the district computed from the new geometry), and
3. for polygons: not reach into another district. The new geometry may cover at most ``REACH_TOLERANCE_M2`` of
   any district outside the caller's that the stored zone did not already cover. So a new zone across the
   district line is refused with the district named; a zone a city-wide planner drew across it stays editable
   (measures, name, a smaller shape) by the district's own planner, but cannot be stretched further. Land the
   caller's own districts cover too (the DataV boundaries overlap a little) does not count.

``mode=replace`` removes only rows of the caller's districts (see :meth:`WriteScope.rows_sql`).

The checks run in SQL over a relation of candidate rows ``(row_no, id, geometry, district_code)``: the staging
table of an import, or one row for the single-feature API. Both use :func:`first_refusal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import Connection as PgConnection

from geo_safety.errors import Forbidden
from geo_safety.layers import LayerSpec
from geo_safety.sql import scope as sql_scope

if TYPE_CHECKING:
    from psycopg.sql import Composable

    from geo_safety.services.users import Principal

#: A district-limited caller's zone may touch another district by no more than this (edge noise, not reach).
REACH_TOLERANCE_M2 = 1.0


@dataclass(frozen=True)
class WriteScope:
    """The districts a caller may write in; ``None``: the whole city."""

    districts: tuple[str, ...] | None

    @property
    def unrestricted(self) -> bool:
        return self.districts is None

    def covers(self, district_code: str | None) -> bool:
        return self.districts is None or district_code in self.districts

    def describe(self) -> str:
        return f"your districts ({', '.join(self.districts or ())})"

    def rows_sql(self, column: str = "district_code") -> tuple[str, list[Any]]:
        """A condition limiting a statement to rows of this scope (``TRUE`` for the whole city), and its params.

        ``column`` is ``district_code``, optionally qualified by a table of the schema (else ``ValueError``).
        """
        return sql_scope.rows_in_districts(column, self.districts)


UNRESTRICTED = WriteScope(None)


def of_user(user: Principal | None, action: str) -> WriteScope:
    """The write scope of ``user`` for ``action`` (403 when the role may not); ``None``: the machine operator."""
    if user is None:
        return UNRESTRICTED
    if not user.may(action):
        raise Forbidden(f"the role '{user.role.value}' may not {action.replace('_', ' ')}")
    return WriteScope(user.districts)


def for_import(layer: LayerSpec, user: Principal | None, allowed_districts: tuple[str, ...] | None) -> WriteScope:
    """The scope of a file import: from the user if given, else ``allowed_districts`` (``None``: the city)."""
    if user is not None:
        scope = of_user(user, "import_hazards" if layer.name == "water_hazards" else "import")
    else:
        scope = UNRESTRICTED if allowed_districts is None else WriteScope(tuple(allowed_districts))
    if not scope.unrestricted and (not layer.assign_district or layer.update_only):
        raise Forbidden(f"only a city-wide account may load {layer.name}, not one limited to {scope.describe()}")
    return scope


@dataclass(frozen=True)
class Refusal:
    """The first candidate row the scope does not allow, and why."""

    row_no: int | None
    feature_id: str | None
    kind: str  # "stored": the id is another district's row; "district": lies outside; "reach": reaches outside
    district: str | None
    area_m2: float | None

    def reason(self, scope: WriteScope) -> str:
        if self.kind == "stored":  # the district holding the id is not named: the caller may not see it
            return f"the id belongs to a zone outside {scope.describe()}; you may not change it"
        if self.kind == "district":
            return f"the zone lies in district {self.district}, outside {scope.describe()}"
        return (
            f"the zone reaches {self.area_m2:,.0f} m² into district {self.district}, outside {scope.describe()}; "
            "only a city-wide planner may draw a zone across district lines"
        )


def first_refusal(
    raw: PgConnection, scope: WriteScope, layer: LayerSpec, candidates: Composable, params: dict[str, Any]
) -> Refusal | None:
    """The first row of ``candidates`` (``row_no, id, geometry, district_code``) outside ``scope``, if any."""
    if scope.unrestricted:
        return None
    geometry_column = (layer.geometry_column or "geom") if layer.geometry == "MultiPolygon" else None
    query = sql_scope.first_refusal(layer.table, layer.key, geometry_column, candidates)
    found = raw.execute(
        query, {**params, "allowed": list(scope.districts or ()), "tolerance": REACH_TOLERANCE_M2}
    ).fetchone()
    return None if found is None else Refusal(found[0], found[1], found[2], found[3], found[4])


def check_file(raw: PgConnection, scope: WriteScope, layer: LayerSpec, file_name: str) -> None:
    """An import's staging table against ``scope``: 403 naming the row, id and reason; nothing is loaded."""
    if scope.unrestricted or not layer.assign_district:
        return
    candidates = sql_scope.staged_candidates(layer.table, layer.key, bool(layer.geometry))
    refusal = first_refusal(raw, scope, layer, candidates, {})
    if refusal is not None:
        raise Forbidden(
            f"{file_name}, row {refusal.row_no}, id {refusal.feature_id!r}: {refusal.reason(scope)}. "
            "Nothing was loaded."
        )


def check_feature(
    raw: PgConnection,
    scope: WriteScope,
    layer: LayerSpec,
    feature_id: str | None,
    wkb: bytes | None,
    district: str | None,
) -> Refusal | None:
    """One feature of the single-feature API: its stored row (if ``feature_id``) and its new geometry/district."""
    return first_refusal(
        raw, scope, layer, sql_scope.FEATURE_CANDIDATE, {"id": feature_id, "wkb": wkb, "district": district}
    )


__all__ = [
    "REACH_TOLERANCE_M2",
    "UNRESTRICTED",
    "Refusal",
    "WriteScope",
    "check_feature",
    "check_file",
    "first_refusal",
    "for_import",
    "of_user",
]

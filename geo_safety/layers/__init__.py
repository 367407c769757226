"""One GeoAlchemy2 model per PostGIS layer, and a registry of how files map onto them.

The registry is what the importer and the CLI read: a layer's key, its geometry, its fields with
their types and closed vocabularies. The models are what queries and the migration check use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geo_safety.layers.base import Base
from geo_safety.layers.districts import District
from geo_safety.layers.inspections import DayPlan, ImportRun, Inspection, InspectionPhoto
from geo_safety.layers.links import HazardSchoolLink, PremiseSchoolLink
from geo_safety.layers.premises import Premise, PremiseStatusHistory
from geo_safety.layers.schools import School
from geo_safety.layers.users import ApiToken, AuditEntry, User, WebSession
from geo_safety.layers.versions import DataVersion
from geo_safety.layers.water_hazards import WaterHazard
from geo_safety.rules import (
    GUARD_MEASURES,
    SECURITY_ITEMS,
    HazardKind,
    InspectionResult,
    PremisesCategory,
    PremisesStatus,
    SchoolKind,
    values,
)


@dataclass(frozen=True)
class FieldSpec:
    """A column a file may carry. ``kind`` is one of text, int, float, bool, date, datetime, json."""

    name: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] | None = None
    default: object = None


@dataclass(frozen=True)
class LayerSpec:
    """How a file becomes rows of ``table``."""

    name: str
    table: str
    key: str
    geometry: str | None  # "Point", "MultiPolygon" or None (table rows without geometry)
    geometry_column: str | None
    fields: tuple[FieldSpec, ...]
    assign_district: bool = True
    update_only: bool = False  # rows must already exist (school campuses)
    extra: dict[str, str] = field(default_factory=dict)

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


def _flags(names: tuple[str, ...]) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(n, "bool", default=False) for n in names)


LAYERS: dict[str, LayerSpec] = {
    "districts": LayerSpec(
        "districts",
        "districts",
        "code",
        "MultiPolygon",
        "geom",
        (
            FieldSpec("code", required=True),
            FieldSpec("name", required=True),
            FieldSpec("level", default="district"),
            FieldSpec("parent_code"),
        ),
        assign_district=False,
    ),
    "schools": LayerSpec(
        "schools",
        "schools",
        "id",
        "Point",
        "geom",
        (
            FieldSpec("id", required=True),
            FieldSpec("name", required=True),
            FieldSpec("kind", required=True, choices=values(SchoolKind)),
            FieldSpec("students", "int", default=0),
            FieldSpec("boarding", "bool", default=False),
            FieldSpec("address"),
            *_flags(SECURITY_ITEMS),
        ),
    ),
    "school_campuses": LayerSpec(
        "school_campuses",
        "schools",
        "id",
        "MultiPolygon",
        "campus",
        (FieldSpec("id", required=True),),
        assign_district=False,
        update_only=True,
    ),
    "premises": LayerSpec(
        "premises",
        "premises",
        "id",
        "Point",
        "geom",
        (
            FieldSpec("id", required=True),
            FieldSpec("name", required=True),
            FieldSpec("category", required=True, choices=values(PremisesCategory)),
            FieldSpec("address"),
            FieldSpec("license_no"),
            FieldSpec("status", default="open", choices=values(PremisesStatus)),
            FieldSpec("closed_on", "date"),  # the registry's closure day: the status holds from it (0008)
        ),
    ),
    "water_hazards": LayerSpec(
        "water_hazards",
        "water_hazards",
        "id",
        "MultiPolygon",
        "geom",
        (
            FieldSpec("id", required=True),
            FieldSpec("name", required=True),
            FieldSpec("kind", required=True, choices=values(HazardKind)),
            FieldSpec("depth_m", "float"),
            FieldSpec("owner"),
            FieldSpec("responsible_unit"),
            FieldSpec("responsible_person"),
            FieldSpec("phone"),
            *_flags(GUARD_MEASURES),
            FieldSpec("patrols", "json", default="[]"),
            FieldSpec("note"),
        ),
    ),
    "inspections": LayerSpec(
        "inspections",
        "inspections",
        "row",
        None,
        None,
        (
            FieldSpec("target_id", required=True),
            FieldSpec("target_type", choices=("premise", "water_hazard")),
            FieldSpec("inspected_at", "datetime", required=True),
            FieldSpec("inspector"),
            FieldSpec("result", required=True, choices=values(InspectionResult)),
            FieldSpec("findings"),
            FieldSpec("follow_up_due", "date"),
        ),
        assign_district=False,
    ),
}


def get_layer(name: str) -> LayerSpec:
    """Look a layer up by name, with a message that lists the layers."""
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; use one of: {', '.join(LAYERS)}") from None


__all__ = [
    "LAYERS",
    "ApiToken",
    "AuditEntry",
    "Base",
    "DataVersion",
    "DayPlan",
    "District",
    "FieldSpec",
    "HazardSchoolLink",
    "ImportRun",
    "Inspection",
    "InspectionPhoto",
    "LayerSpec",
    "Premise",
    "PremiseSchoolLink",
    "PremiseStatusHistory",
    "School",
    "User",
    "WaterHazard",
    "WebSession",
    "get_layer",
]

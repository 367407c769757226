"""One GeoAlchemy2 model per PostGIS layer, and what is derived from them.

A layer's shape has one home, its model: columns, types, constraints, and (``info=exposed(...)``) which columns
a file may carry, which are required, their closed vocabularies, and which the feature API and OGC API serve.
From the models come the importer's registry ``LAYERS`` (``LayerSpec``/``FieldSpec``, read by the importer and
the CLI) and ``FEATURE_LAYERS`` (the served columns and rows, read by the feature queries and OGC).
"""

from __future__ import annotations

from geo_safety.layers.base import Base, Exposed, exposed, exposure
from geo_safety.layers.districts import District
from geo_safety.layers.inspections import DayPlan, ImportRun, Inspection, InspectionPhoto
from geo_safety.layers.links import HazardSchoolLink, PremiseSchoolLink
from geo_safety.layers.premises import Premise, PremiseStatusHistory
from geo_safety.layers.schools import School
from geo_safety.layers.spec import FeatureLayer, FieldSpec, FileLayer, LayerSpec, feature_layer, file_layers
from geo_safety.layers.users import ApiToken, AuditEntry, User, WebSession
from geo_safety.layers.versions import DataVersion
from geo_safety.layers.water_hazards import WaterHazard

#: the models of the layers, in the order the importer and the APIs list them
LAYER_MODELS: tuple[type[Base], ...] = (District, School, Premise, WaterHazard, Inspection)

LAYERS: dict[str, LayerSpec] = {spec.name: spec for model in LAYER_MODELS for spec in file_layers(model)}

FEATURE_LAYERS: dict[str, FeatureLayer] = {
    served.name: served for served in map(feature_layer, LAYER_MODELS) if served is not None
}


def get_layer(name: str) -> LayerSpec:
    """Look a layer up by name, with a message that lists the layers."""
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; use one of: {', '.join(LAYERS)}") from None


__all__ = [
    "FEATURE_LAYERS",
    "LAYERS",
    "LAYER_MODELS",
    "ApiToken",
    "AuditEntry",
    "Base",
    "DataVersion",
    "DayPlan",
    "District",
    "Exposed",
    "FeatureLayer",
    "FieldSpec",
    "FileLayer",
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
    "exposed",
    "exposure",
    "feature_layer",
    "file_layers",
    "get_layer",
]

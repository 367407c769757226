"""``GET /api/v1/{layer}``: a layer as GeoJSON, limited to the caller's districts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from geo_safety.api.deps import EngineDep, ScopeDep
from geo_safety.api.params import Offset
from geo_safety.api.schemas_features import LAYER_COLLECTIONS, LayerCollection
from geo_safety.services import features

router = APIRouter(prefix="/api/v1", tags=["layers"])


@router.get("/layers/{layer}")
def layer_features(
    layer: Literal["districts", "schools", "premises", "water_hazards"],
    engine: EngineDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=features.MAX_LIMIT)] = 1000,
    offset: Offset = 0,
) -> LayerCollection:
    """Features of ``layer`` in WGS84 (GeoJSON). Inspectors see only their districts.

    The answer is the layer's own model (``SchoolCollection``…): each layer has its properties."""
    return LAYER_COLLECTIONS[layer].model_validate(features.feature_collection(engine, layer, scope, limit, offset))

"""``GET /api/v1/{layer}``: a layer as GeoJSON, limited to the caller's districts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from geo_safety.api.deps import EngineDep, ScopeDep
from geo_safety.api.params import Offset
from geo_safety.services import features

router = APIRouter(prefix="/api/v1", tags=["layers"])


@router.get("/layers/{layer}")
def layer_features(
    layer: Literal["districts", "schools", "premises", "water_hazards"],
    engine: EngineDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=features.MAX_LIMIT)] = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Features of ``layer`` in WGS84 (GeoJSON). Inspectors see only their districts."""
    return features.feature_collection(engine, layer, scope, limit, offset)

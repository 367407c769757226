"""``GET /health``: for load balancers and the README's first check. Open to anonymous callers."""

from __future__ import annotations

from fastapi import APIRouter, Request

from geo_safety.services import health

router = APIRouter(tags=["health"])


@router.get("/health")
def get_health(request: Request) -> dict[str, object]:
    """Database reachable, PostGIS version, schema revision and layer sizes (503 when down)."""
    return health.check(request.app.state.engine)

"""``GET /health``: for load balancers and the README's first check.

Anonymous callers learn only that the service and its database answer (``{"status": "ok"}``, or 503);
versions, the schema revision and the layer sizes are for signed-in callers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from geo_safety.api.deps import EngineDep, SettingsDep, current_user
from geo_safety.api.schemas import Health
from geo_safety.errors import Unauthenticated
from geo_safety.services import health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, response_model_exclude_unset=True)
def get_health(request: Request, engine: EngineDep, settings: SettingsDep) -> dict[str, object]:
    """``{"status": "ok"}`` when the database answers (503 when it does not); with credentials also the
    PostGIS version, schema revision and layer sizes."""
    detailed = False
    if request.headers.get("authorization") is not None or request.cookies:
        try:
            current_user(request, engine, settings)
            detailed = True
        except Unauthenticated:
            pass  # wrong or stale credentials: the anonymous answer
    return health.check(engine, detailed=detailed, calendar=request.app.state.rules.calendar)

"""``GET /api/v1/audit``: the audit trail, for admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from geo_safety.api.deps import Allowed, EngineDep
from geo_safety.api.schemas import AuditOut
from geo_safety.services import audit
from geo_safety.services.users import Principal

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("")
def audit_entries(
    engine: EngineDep,
    admin: Annotated[Principal, Depends(Allowed("read_audit"))],
    since: Annotated[datetime | None, Query(description="ISO date-time; default: the last 24 hours")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditOut]:
    if since is None:
        since = datetime.now(UTC) - timedelta(days=1)
    elif since.tzinfo is None:
        from zoneinfo import ZoneInfo

        since = since.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return [AuditOut(**row) for row in audit.entries_since(engine, since, limit)]

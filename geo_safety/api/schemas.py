"""Pydantic request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from geo_safety.rules import Role


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    districts: list[str] = Field(default_factory=list, max_length=50)


class Credentials(BaseModel):
    """Shown once: only hashes are kept."""

    name: str
    role: str
    districts: list[str]
    password: str | None = None
    token: str


class UserOut(BaseModel):
    name: str
    role: str
    districts: list[str]
    is_demo: bool
    disabled_at: datetime | None
    created_at: datetime


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    client: str | None


class ImportOut(BaseModel):
    layer: str
    file_name: str
    datum: str
    mode: str
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    repaired: int
    ignored_columns: list[str]


class Problem(BaseModel):
    """Every 4xx/5xx body: ``detail`` says what is wrong (a sentence, or FastAPI's list of field errors);
    ``code`` is stable, for clients to show their own text (e.g. ``zone.invalid_geometry``, ``version.stale``)."""

    detail: str | list[dict[str, Any]]
    code: str | None = None
    current_version: int | None = None
    request_id: str | None = None


#: documented on every operation, so clients (and the fuzzer) know the error shape
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (400, "A malformed parameter (OGC API)."),
        (401, "No, wrong, revoked or expired credentials."),
        (403, "The role or the district scope does not allow this."),
        (404, "No such object."),
        (408, "The request took too long and was cancelled."),
        (409, "A stale version or a duplicate."),
        (412, "If-Match names a version that is no longer current."),
        (413, "The body is larger than allowed."),
        (422, "Invalid input, with the reason."),
        (428, "The edit does not say which version it read."),
        (429, "Too many heavy requests at once (per user or in the service); retry after Retry-After seconds."),
        (503, "The database is unavailable; retry after Retry-After seconds."),
    )
}

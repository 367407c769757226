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

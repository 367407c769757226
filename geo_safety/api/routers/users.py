"""User administration (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from geo_safety.api.deps import Allowed, EngineDep, SettingsDep, actor_of
from geo_safety.api.schemas import Credentials, NewUser, UserOut
from geo_safety.services import users
from geo_safety.services.users import Principal

router = APIRouter(prefix="/api/v1/users", tags=["users"])
AdminDep = Annotated[Principal, Depends(Allowed("manage_users"))]


@router.get("")
def list_users(engine: EngineDep, admin: AdminDep) -> list[UserOut]:
    return [UserOut(**row) for row in users.list_users(engine)]


@router.post("", status_code=201)
def add_user(body: NewUser, request: Request, engine: EngineDep, settings: SettingsDep, admin: AdminDep) -> Credentials:
    """Create a user; the password and API token are in this response only."""
    created = users.add_user(engine, settings, actor_of(request, admin), body.name, body.role, tuple(body.districts))
    return Credentials(**{**created.__dict__, "districts": list(created.districts)})


@router.post("/{name}/disable", status_code=204)
def disable_user(name: str, request: Request, engine: EngineDep, admin: AdminDep) -> None:
    users.disable_user(engine, actor_of(request, admin), name)


@router.post("/{name}/token", status_code=201)
def new_token(name: str, request: Request, engine: EngineDep, settings: SettingsDep, admin: AdminDep) -> Credentials:
    """A new API token for ``name``, shown once."""
    token = users.new_token(engine, settings, actor_of(request, admin), name)
    row = next(u for u in users.list_users(engine) if u["name"] == name)
    return Credentials(name=name, role=row["role"], districts=row["districts"], token=token)

"""Landing page, login and logout for the browser pages, and ``/api/v1/me``."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from geo_safety.api.deps import SESSION_COOKIE, EngineDep, SettingsDep, UserDep, client_address
from geo_safety.api.pages import TEMPLATES
from geo_safety.errors import InvalidInput
from geo_safety.services import users
from geo_safety.services.audit import Actor

router = APIRouter(tags=["auth"])


def _safe_next(target: str | None) -> str:
    """Only local paths: a login form must not redirect to another site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    return TEMPLATES.TemplateResponse(
        request, "login.html", {"user": None, "error": None, "next": _safe_next(next), "username": ""}
    )


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        _, session_id = users.login(engine, settings, username, password, client_address(request))
    except InvalidInput:
        context = {
            "user": None,
            "error": "用户名或密码错误 Wrong user name or password",
            "next": _safe_next(next),
            "username": username,
        }
        return TEMPLATES.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        user = users.session_principal(engine, settings, session_id)
        users.logout(engine, settings, session_id, Actor(user.name if user else "?", client_address(request)))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/v1/me")
def me(user: UserDep) -> dict[str, object]:
    """Who am I: name, role and the districts the account covers (``null`` = the whole city)."""
    return {"name": user.name, "role": user.role.value, "districts": user.districts}

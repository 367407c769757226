"""Landing page, login and logout for the browser pages, and ``/api/v1/me``.

Login and logout refuse cross-site requests: a form post must come from one of our pages (``Origin``, else
``Referer``), and the login form must carry the token its page handed out (double submit, signed). Logins are
limited per account and per client address (429 with ``Retry-After``), and the password checks running at
once are bounded (503 at once beyond that).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from geo_safety import security
from geo_safety.api.deps import (
    CSRF_HEADER,
    CSRF_VALUE,
    SESSION_COOKIE,
    EngineDep,
    SettingsDep,
    UserDep,
    client_address,
    same_origin,
)
from geo_safety.api.pages import TEMPLATES
from geo_safety.api.schemas import Me
from geo_safety.errors import Forbidden, InvalidInput
from geo_safety.services import users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings

router = APIRouter(tags=["auth"])
CSRF_COOKIE = "gs_csrf"
_CSRF_MAX_AGE = 2 * 3600
WRONG = "用户名或密码错误"


def _safe_next(target: str | None) -> str:
    """Only local paths: a login form must not redirect to another site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _form(
    request: Request,
    settings: Settings,
    *,
    next_path: str = "/",
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The login form with a CSRF token (the browser's current one when it is still valid)."""
    token = request.cookies.get(CSRF_COOKIE)
    if token is None or not security.csrf_token_valid(settings.secret_key, token, token):
        token = security.new_csrf_token(settings.secret_key)
    context = {"user": None, "error": error, "next": _safe_next(next_path), "username": username, "csrf": token}
    response = TEMPLATES.TemplateResponse(request, "login.html", context, status_code=status_code, headers=headers)
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=_CSRF_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure or request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, settings: SettingsDep, next: str = "/") -> Response:
    return _form(request, settings, next_path=next)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    shown = username if username.isprintable() else ""
    if same_origin(request) is False:
        return _form(
            request, settings, next_path=next, error="跨站登录被拒绝 Cross-site login refused", status_code=403
        )
    if not security.csrf_token_valid(settings.secret_key, request.cookies.get(CSRF_COOKIE), csrf_token):
        error = "登录表单已过期，请重试 The form has expired; please log in again"
        return _form(request, settings, next_path=next, username=shown, error=error, status_code=403)
    try:
        _, session_id = users.login(engine, settings, username, password, client_address(request))
    except users.LoginThrottled as exc:
        error = f"登录失败次数过多，请稍后再试 {exc}"
        retry = {"Retry-After": str(exc.retry_after)}
        return _form(request, settings, next_path=next, username=shown, error=error, status_code=429, headers=retry)
    except users.LoginBusy as exc:
        error = f"服务器繁忙，请稍后再试 {exc}"
        retry = {"Retry-After": str(exc.retry_after)}
        return _form(request, settings, next_path=next, username=shown, error=error, status_code=503, headers=retry)
    except InvalidInput:
        return _form(request, settings, next_path=next, username=shown, error=WRONG, status_code=401)
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
    response.delete_cookie(CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """Only from our own pages (``Origin``/``Referer``) or a script sending the CSRF header: another site must
    not be able to sign the person out."""
    if not (same_origin(request) or request.headers.get(CSRF_HEADER) == CSRF_VALUE):
        raise Forbidden(f"log out from the app's pages (or send the header '{CSRF_HEADER}: {CSRF_VALUE}')")
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        user = users.session_principal(engine, settings, session_id)
        users.logout(engine, settings, session_id, Actor(user.name if user else "?", client_address(request)))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/v1/me")
def me(user: UserDep) -> Me:
    """Who am I: name, role and the districts the account covers (``null`` = the whole city)."""
    return Me(name=user.name, role=user.role, districts=None if user.districts is None else list(user.districts))
